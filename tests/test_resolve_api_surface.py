"""The Resolve double's surface (and the public `fusionscript-stubs`) against the engine's
Protocols, so the double cannot drift into an API Resolve does not have."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.resolve_double import (
    FakeMediaPool,
    FakeMediaPoolItem,
    FakeProject,
    FakeProjectManager,
    FakeResolve,
    FakeTimeline,
)
from workers.resolve import api

PROTOCOLS: dict[str, type[Any]] = {
    "Resolve": api.Resolve,
    "ProjectManager": api.ProjectManager,
    "Project": api.Project,
    "MediaPool": api.MediaPool,
    "MediaPoolItem": api.MediaPoolItem,
    "Timeline": api.Timeline,
}
DOUBLES: dict[str, type[Any]] = {
    "Resolve": FakeResolve,
    "ProjectManager": FakeProjectManager,
    "Project": FakeProject,
    "MediaPool": FakeMediaPool,
    "MediaPoolItem": FakeMediaPoolItem,
    "Timeline": FakeTimeline,
}


# -- the API surface -------------------------------------------------------------------
def _stub_tree() -> ast.Module:
    dist = importlib.metadata.distribution("fusionscript-stubs")
    path = Path(str(dist.locate_file("fusionscript-stubs/fusionscript.pyi")))
    return ast.parse(path.read_text(encoding="utf-8"))


def _runtime_kinds(tp: Any) -> set[str]:
    """A return type reduced to what matters at a call site: list, dict, str, a class …"""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_runtime_kinds(a) for a in typing.get_args(tp)))
    if tp is type(None) or tp is None:
        return {"None"}
    base = origin or tp
    if base in (list, dict):
        return {base.__name__}
    return {getattr(base, "__name__", str(base))}


def _stub_kinds(node: ast.expr | None, typeddicts: set[str]) -> set[str]:
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return {"None"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _stub_kinds(node.left, typeddicts) | _stub_kinds(node.right, typeddicts)
    if isinstance(node, ast.Subscript):
        name = ast.unparse(node.value)
        if name == "Optional":
            return _stub_kinds(node.slice, typeddicts) | {"None"}
    else:
        name = ast.unparse(node)
    if name in ("List", "list") or name.startswith("["):
        return {"list"}
    if name in ("dict", "Dict") or name in typeddicts:
        return {"dict"}
    return {name}


def _accepts(stub: ast.FunctionDef, wanted: inspect.Signature) -> bool:
    """Whether one stub overload takes the call the Protocol declares, by position and name."""
    args = stub.args.args[1:]
    defaults = [False] * (len(args) - len(stub.args.defaults)) + [True] * len(stub.args.defaults)
    params = [p for p in wanted.parameters.values() if p.name != "self"]
    if len(params) > len(args) and stub.args.vararg is None:
        return False
    for param, arg in zip(params, args, strict=False):
        if param.name != arg.arg:
            return False
    for arg, has_default in list(zip(args, defaults, strict=True))[len(params) :]:
        # Known stub defect: optional parameters typed Optional[...] without a default.
        optional = arg.annotation is not None and ast.unparse(arg.annotation).startswith("Optional")
        if not (has_default or optional):
            return False
    return True


def _protocol_methods(proto: type[Any]) -> dict[str, Callable[..., Any]]:
    return {n: f for n, f in vars(proto).items() if inspect.isfunction(f) and not n.startswith("_")}


def test_the_public_stubs_offer_every_call_the_engine_makes() -> None:
    tree = _stub_tree()
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
    typeddicts = {
        n for n, c in classes.items() if any(ast.unparse(b) == "TypedDict" for b in c.bases)
    }
    problems = []
    for cls_name, proto in PROTOCOLS.items():
        stub_cls = classes[cls_name]
        for name, method in _protocol_methods(proto).items():
            overloads = [
                f for f in stub_cls.body if isinstance(f, ast.FunctionDef) and f.name == name
            ]
            if not overloads:
                problems.append(f"{cls_name}.{name} is not in the stubs")
                continue
            matching = [f for f in overloads if _accepts(f, inspect.signature(method))]
            if not matching:
                problems.append(f"{cls_name}.{name}{inspect.signature(method)} fits no overload")
                continue
            # Known stub defect: None returns are not always typed, so None is not compared.
            want = _runtime_kinds(typing.get_type_hints(method)["return"]) - {"None"}
            got = [_stub_kinds(f.returns, typeddicts) - {"None"} for f in matching]
            if want not in got:
                problems.append(f"{cls_name}.{name} returns {want} here, {got} in the stubs")
    assert problems == []


def _shape(sig: inspect.Signature) -> list[tuple[str, bool]]:
    return [(p.name, p.default is inspect.Parameter.empty) for p in sig.parameters.values()]


def test_the_double_has_exactly_the_protocol_signatures() -> None:
    problems = []
    for cls_name, proto in PROTOCOLS.items():
        double = DOUBLES[cls_name]
        for name, method in _protocol_methods(proto).items():
            fake = getattr(double, name, None)
            if fake is None:
                problems.append(f"{double.__name__}.{name} is missing")
                continue
            want, got = inspect.signature(method), inspect.signature(fake)
            if _shape(want) != _shape(got):
                problems.append(f"{double.__name__}.{name}{got} != {want}")
            want_ret = _runtime_kinds(typing.get_type_hints(method)["return"])
            got_ret = _runtime_kinds(typing.get_type_hints(fake)["return"])
            if not got_ret <= want_ret:
                problems.append(f"{double.__name__}.{name} returns {got_ret}, not {want_ret}")
    assert problems == []
