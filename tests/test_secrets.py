"""The literal gate in front of detect-secrets never hides a secret the detectors would find."""

from __future__ import annotations

import pytest

from nbsql.health.secrets import _detectors, find_secrets, find_secrets_in

#: One line per detector nbsql runs, each shaped like the detector's own pattern.
SAMPLES = {
    "Artifactory Credentials": ['token = "AKCp5abcdefghij12345"', 'x = "AP6abcdefgh123"'],
    "AWS Access Key": ["id = AKIAIOSFODNN7EXAMPLE", "id = ABIAIOSFODNN7EXAMPLE", "id = A3TXIOSFODNN7EXAMPLE",
                       "id = ACCAIOSFODNN7EXAMPLE", "id = ASIAIOSFODNN7EXAMPLE",
                       'aws_pw = "' + "Abcdefghij0123456789" * 2 + '"'],
    "Azure Storage Account access key": ["AccountKey=" + "aB3+" * 22],
    "Basic Auth Credentials": ["url = 'https://user:hunter2@example.com/data'"],
    "Discord Bot Token": ["M" + "a1B2" * 6 + "." + "x9Y8z7" + "." + "q" * 27],
    "GitHub Token": ["ghp_" + "A1b2" * 9],
    "GitLab Token": ["glpat-" + "x1Y2z3" * 4, "GR1348941" + "y7Z8" * 6, "glcbt-" + "ab12" * 6,
                     'x = "glagent-' + "A1b2C" * 10 + '"'],
    "JSON Web Token": ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
    "Secret Keyword": ['password = "hunter2-is-not-a-good-one"', 'contrasena = "hunter2xyz9"',
                       'contraseña = "hunter2xyz9"', 'my_password => "hunter2xyz9"',
                       'if ("hunter2xyz9" == my_password)', 'password = `hunter2xyz9`'],
    "Mailchimp Access Key": ["key " + "0a1b2c3d" * 4 + "-us12"],
    "NPM tokens": ["//registry.npmjs.org/:_authToken=npm_abcdefabcdef"],
    "OpenAI Token": ["sk-" + "a1B2" * 5 + "T3BlbkFJ" + "c3D4" * 5],
    "Private Key": ["-----BEGIN RSA PRIVATE KEY-----"],
    "PyPI Token": ["pypi-AgEIcHlwaS5vcmc" + "a1B2" * 18],
    "SendGrid API Key": ["SG." + "a1B2" * 5 + "xy" + "." + "c3D4" * 10 + "xyz"],
    "Slack Token": ["xoxb-123-456-abc123", "https://hooks.slack.com/services/T0001/B0001/XXXXXXXX"],
    "Square OAuth Secret": ["sq0csp-" + "a1B2" * 10 + "xyz"],
    "Stripe Access Key": ["sk_live_" + "a1B2" * 6],
    "Telegram Bot Token": ["123456789:" + "A1b2C" * 7],
    "Cloudant Credentials": ['cloudant_password = "' + "0123456789abcdef" * 4 + '"',
                             'cl_pw = "abcdefghijabcdefghijabcd"'],
    "IBM COS HMAC Credentials": ['secret_access_key = "' + "0123456789abcdef" * 3 + '"'],
    "SoftLayer Credentials": ['softlayer_api_key = "' + "0123456789abcdef" * 4 + '"',
                              'url = "https://api.softlayer.com/soap/v3/' + "abcdefghij" * 6 + 'abcd"'],
    "IBM Cloud IAM Key": ['ibm_cloud_iam_api_key = "' + "a1B2_c3D4-" * 4 + 'abcd"'],
    "Twilio API Key": ["sid = AC" + "0a1b2c3d" * 4, "sid = SK" + "0a1b2c3d" * 4],
}


def _ungated(line: str) -> list[tuple[int, str]]:
    kinds = {secret.type for plugin, _ in _detectors()
             for secret in plugin.analyze_line(filename="cell.py", line=line, line_number=1)}
    return [(1, kind) for kind in sorted(kinds)]


def _found(text: str) -> list[tuple[int, str]]:
    return [(secret.line, secret.kind) for secret in find_secrets(text)]


@pytest.mark.parametrize("kind, line", [(k, line) for k, lines in SAMPLES.items() for line in lines])
def test_gate_lets_every_detector_through(kind, line):
    expected = _ungated(line)
    assert (1, kind) in expected, "the sample does not trip its own detector"
    # one secret a line, of the most specific kind there: a detector of its own before the keyword detector
    specific = sorted(k for _, k in expected if k != "Secret Keyword") or ["Secret Keyword"]
    assert _found(line) == [(1, specific[0])]
    assert _found(f"print('hello')\n\n{line}\nx = 1") == [(3, specific[0])]


def test_every_detector_has_a_sample():
    assert {plugin.secret_type for plugin, _ in _detectors()} == set(SAMPLES)


def test_plain_text_has_no_secrets():
    assert _found("import pandas as pd\ndf = pd.read_csv('data.csv')\nprint(df.head())") == []


def test_texts_scanned_together_find_what_each_text_alone_finds():
    secret = 'password = "hunter2-is-not-a-good-one"'
    token = "ghp_" + "A1b2" * 9
    texts = ["", "x = 1", f"a\r{secret}\r\nb", "key\n" * 3 + token, "İstanbul\n" + secret, "y" * 2500 + secret,
             f"{token}\u2028{secret}", "no secrets here", secret]
    alone = [(index, secret) for index, text in enumerate(texts) for secret in find_secrets(text)]
    assert find_secrets_in(texts) == alone
    assert {(index, secret.line) for index, secret in alone} == {(2, 2), (3, 4), (4, 2), (6, 1), (6, 2), (8, 1)}
    for index in range(len(texts)):  # "İ" lower-cases to two characters: offsets in the joined text move
        assert find_secrets_in(texts[index:]) == [(i - index, secret) for i, secret in alone if i >= index]


@pytest.mark.parametrize("line", ['api_key = "YOUR_API_KEY"', 'password = "ENTER PASSWORD"', "secret = 'xxxxxxxxxxxx'",
                                  'enter_password = "EnterYourOwnInfoHere"', "api_key = 'paste_your_key_here'",
                                  # issue 14 point 4
                                  'client_secret = "my-client-secret"', 'password = "xxx"', 'password = "changeme"',
                                  "pwd = 'PWD=' + PASSWORD", "Algorithmia.apiKey = 'Simple ' + API_KEY",
                                  "password = 'password'", 'db_password = "mysecretpassword"', "secret_key = 'dev'",
                                  "password = 'Token ' + os.environ['TOKEN']"])
def test_placeholders_are_not_secrets(line):
    assert _ungated(line), "the detectors themselves report it"
    assert find_secrets(line) == []


@pytest.mark.parametrize("line", ['api_key = "<your-key>"', 'password = "***"', 'password = os.environ["DB_PASSWORD"]',
                                  'password = os.getenv("DB_PASSWORD")', 'secret = config["auth"]["secret"]',
                                  'secret = config.get("auth", "secret")', "password = getpass.getpass('Password: ')"])
def test_values_read_from_elsewhere_are_not_secrets(line):
    assert find_secrets(line) == []


@pytest.mark.parametrize("line, kind, name, value", [
    ("client_secret = 'keZdvIa1Ge257NKEm3v-eGEdv8M'", "Secret Keyword", "client_secret", "keZdvIa1Ge257NKEm3v-eGEdv8M"),
    ('settings = {"db_password": "hunter2-is-not-a-good-one"}', "Secret Keyword", "db_password",
     "hunter2-is-not-a-good-one"),
    ("token = 'ghp_" + "A1b2" * 9 + "'", "GitHub Token", "token", "ghp_" + "A1b2" * 9),
    ("url = 'https://user:hunter2xyz@example.com/data'", "Basic Auth Credentials", None, "hunter2xyz"),
    ("AKIAIOSFODNN7EXAMPLE", "AWS Access Key", None, "AKIAIOSFODNN7EXAMPLE"),
])
def test_a_secret_is_named_and_masked(line, kind, name, value):
    [secret] = find_secrets(line)
    assert (secret.kind, secret.name, secret.value) == (kind, name, value)
    assert value not in secret.masked and f"{len(value)} characters" in secret.masked
    assert secret.masked.startswith("'" + value[:min(4, len(value) // 5)] + "…'")


def test_base64_images_are_not_read():
    token = "AKIAIOSFODNN7EXAMPLE"
    image = f'<img src="data:image/png;base64,iVBORw0KGgo{token}AAAA==">'
    assert find_secrets(image) == [] and _found(f"{image}\nid = {token}") == [(2, "AWS Access Key")]
