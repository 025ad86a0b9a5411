"""What a cell defines, modifies, uses and calls, and which earlier cell each use needs: small sources."""

from __future__ import annotations

import ast

import pytest

from nbsql.code import analyze
from nbsql.deps.graph import link
from nbsql.deps.names import CellNames, cell_names, dotted, is_builtin
from nbsql.deps.slice import closure, closures, lowest


def names(source: str) -> CellNames:
    facts = analyze(source)  # as the load parses it: IPython lines masked
    assert facts.tree is not None, facts.parse_error
    return cell_names(facts.tree)


def needs(*sources: str) -> list[dict[str, int]]:
    """For cells 0, 1, ... with these sources: each cell's name -> position of the cell it needs."""
    return [cell.needs for cell in link((p, names(s)) for p, s in enumerate(sources))]


@pytest.mark.parametrize("source, defines, uses", [
    ("x = 1\ny = x + z", ["x", "y"], ["z"]),
    ("x += 1", ["x"], ["x"]),  # augmented assignment: reads x, then binds it
    ("y = x\nx = 2", ["y", "x"], ["x"]),  # read before the cell binds it: an earlier cell's x
    ("a, (b, *c) = d", ["a", "b", "c"], ["d"]),
    ("n: int", [], ["int"]),  # an annotation without a value binds nothing
    ("total: float = start + 1", ["total"], ["float", "start"]),
    ("import a.b.c\nimport x as y\nfrom m import z as w, v", ["a", "y", "w", "v"], []),
    ("from pylab import *\nplot(t)", ["*"], ["plot", "t"]),
    ("def f(a, *rest, k=default, **options) -> R:\n    b = a + c\n    return b + f(d, rest, options)",
     ["f"], ["default", "R", "c", "d"]),  # parameters and locals are the function's own
    ("def outer():\n    v = 1\n    def inner():\n        nonlocal v\n        v = v + w\n    return inner",
     ["outer"], ["w"]),
    ("g = lambda q: q + r", ["g"], ["r"]),
    ("squares = [i * k for i in range(n) if i % m]", ["squares"], ["range", "n", "m", "k"]),
    ("pairs = {a: b for a, b in items}\nfirst = next(x for x in pairs)", ["pairs", "first"], ["items", "next"]),
    ("fs = [lambda: i for i in xs]", ["fs"], ["xs"]),
    ("found = [y := f(v) for v in values]", ["y", "found"], ["values", "f"]),  # := binds outside
    ("if (m := pattern.match(s)):\n    print(m.group(0))", ["m"], ["pattern", "s", "print"]),
    ("for row in rows:\n    total = total + row", ["row", "total"], ["rows", "total"]),
    ("with open(path) as fh, lock:\n    data = fh.read()", ["fh", "data"], ["open", "path", "lock"]),
    ("try:\n    risky()\nexcept (ValueError, MyError) as e:\n    log(e)", ["e"],
     ["risky", "ValueError", "MyError", "log"]),
    ("class A(Base, metaclass=Meta):\n    k = 1\n    j = k + m\n    def method(self):\n        return k + glob",
     ["A"], ["Base", "Meta", "m", "k", "glob"]),  # a method does not see the class body's k: the notebook's
    ("@register(kind)\nclass B:\n    pass", ["B"], ["register", "kind"]),
    ("def bump():\n    global counter\n    counter = counter + 1", ["bump", "counter"], ["counter"]),
    ("def f():\n    return helper()\ndef helper():\n    return 1", ["f", "helper"], []),  # bound by the cell
    ("del x", [], ["x"]),  # del needs the name to exist
    ("z = 1\ndel z", [], []),
    ("match point:\n    case Point(x=a, y=[b, *rest]) if a > limit:\n        pass\n    case {'k': v, **others}:\n"
     "        pass\n    case Color.RED | None:\n        pass",
     ["a", "b", "rest", "v", "others"], ["point", "Point", "limit", "Color"]),
    ("%matplotlib inline\nfiles = !ls\n%time best = search(grid)", ["files", "best"], ["search", "grid"]),
    ("%%capture captured\nrun(model)", ["captured"], ["run", "model"]),
])
def test_defines_and_uses(source, defines, uses):
    found = names(source)
    assert list(found.defines) == defines
    assert list(found.uses) == uses


def test_in_place_changes_are_modifications_and_uses():
    found = names('df["total"] = df.price * df.units\nconfig.debug.level = 3\ncounts[key] += 1\n'
                  'del cache[key]\nlocal = {}\nlocal["a"] = 1')
    assert found.modifies == ("df", "config", "counts", "cache", "local")
    assert found.uses == ("df", "config", "counts", "key", "cache")
    assert found.defines == ("local",)
    inside = names("def f():\n    df['x'] = 1\nclass C:\n    attrs = {}\n    attrs['a'] = 1")
    assert inside.modifies == ()  # only the cell's own statements change the notebook's objects


def test_calls_are_dotted_as_written():
    found = names("import pandas as pd\nframe = pd.read_csv(path)\nframe.groupby('a').sum().plot()\n"
                  "print(len(frame))\n''.join(parts)\nmodels[0].fit(X)\nmake()()\n"
                  "def f():\n    return np.random.seed(0)")
    assert found.calls == ("pd.read_csv", ".plot", ".sum", "frame.groupby", "print", "len", ".join", ".fit",
                           "make", "np.random.seed")
    assert dotted(ast.parse("a.b.c()").body[0].value.func) == "a.b.c"  # type: ignore[attr-defined]


def test_builtins():
    assert is_builtin("print") and is_builtin("display") and is_builtin("_5") and is_builtin("_i3")
    assert not is_builtin("pd") and not is_builtin("_private")


def test_each_use_needs_the_nearest_earlier_definition():
    assert needs("x = 1", "x = 2", "y = x", "x = 3") == [{}, {}, {"x": 1}, {}]


def test_a_use_before_the_cell_redefines_it_needs_the_earlier_cell():
    assert needs("text = 'a'", "text = text.upper()", "print(text)") == [{}, {"text": 0}, {"text": 1}]


def test_imports_functions_and_their_free_names():
    cells = needs("import numpy as np", "def norm(v):\n    return np.sqrt(v @ v)", "scale = 2", "norm(data) * scale")
    assert cells == [{}, {"np": 0}, {}, {"norm": 1, "scale": 2}]


def test_modifications_are_needed_by_later_readers():
    cells = needs("df = load()", "df['b'] = df.a * 2", "df.b.mean()")
    assert cells == [{}, {"df": 0}, {"df": 1}]


def test_builtins_link_only_where_the_notebook_shadows_them():
    cells = link((p, names(s)) for p, s in enumerate(["print(len(x))", "list = [1, 2]", "list.append(3)"]))
    assert cells[0].names.uses == ("x",)  # print and len are nobody's: not kept
    assert cells[2].needs == {"list": 1} and cells[2].names.uses == ("list",)


def test_star_imports_may_provide_what_no_cell_defines():
    cells = needs("from math import *", "x = 2", "y = sqrt(x) + len([])", "sqrt = abs", "sqrt(y)")
    assert cells == [{}, {}, {"sqrt": 0, "x": 1}, {}, {"sqrt": 3, "y": 2}]  # len: a builtin, not the star's


def test_slices_are_transitive_and_in_notebook_order():
    sources = ["import re", "text = 'a b'", "def tokenize(s):\n    return re.findall('[a-z]+', s)",
               "words = tokenize(text)", "unrelated = 1", "len(words) + unrelated"]
    linked = link((p, names(s)) for p, s in enumerate(sources))
    graph = {cell.position: set(cell.needs.values()) for cell in linked}
    assert closure(graph, 5) == (0, 1, 2, 3, 4, 5)
    assert closure(graph, 3) == (0, 1, 2, 3)
    assert closure(graph, 1) == (1,)


def test_every_slice_at_once_as_bit_masks():
    chain = {position: [position - 1] for position in range(1, 2000)}  # each cell needs the one before
    masks = closures(chain, range(2000))
    assert masks[1999].bit_count() == 2000 and lowest(masks[1999], 3) == [0, 1, 2]
    graph = {5: [3, 1], 3: [2], 7: [5]}
    masks = closures(graph, [1, 2, 3, 5, 7, 9])
    for position in (1, 2, 3, 5, 7, 9):
        assert lowest(masks[position], 100) == list(closure(graph, position))
