"""The Sphinx extension behind the book's API reference (``book/api/``, rendered by ``sphinx.ext.autodoc``).

The reference documents each public name where a reader imports it (``rrlib.attacks.ThreatModel``), but Python
knows it by the module that defines it (``rrlib.attacks.threat_models.ThreatModel``): that is the name autodoc writes
into every signature's type annotation, and many docstrings cross-reference a name by its defining module
(``:func:`rrlib.train.fit.fit```). Under ``-n`` (nitpicky) each such reference would be unresolved. This extension

* resolves a reference to an ``rrlib`` object that the reference documents under another name to that entry (the
  same Python object, found by importing both names) and shows a signature's type variable (``T``) as text; every
  other reference is left alone, so a reference to an ``rrlib`` name the book does not document still fails the build;
* documents public module data that a package imports (``rrlib.data.THREAT_MODELS``) with the ``#:`` comment where it
  is assigned, which autodoc alone does not find, and leaves a value longer than a line out of its signature;
* leaves out a class member whose only docstring is another package's (a torch module's ``forward``).

Loaded by ``_config.yml`` (``sphinx: extra_extensions``); :func:`rrlib.book.build_book` puts this clone on the
builder's ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any, TypeVar

__all__ = ["defining_comment", "find_object", "inherits_foreign_docstring", "setup"]

#: Python-domain object types a reference may be resolved to, by the identity of the object.
_LINKABLE = {"module", "class", "exception", "function", "method", "classmethod", "staticmethod", "property",
             "attribute", "data"}
#: Values too common to tell two names apart by identity (``MAX_BITS = 8`` is the same object as any other 8).
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_MISSING = object()
#: Module data whose value (its repr) is longer than this is shown without it.
_LONGEST_VALUE = 120


def find_object(name: str, module: str | None = None) -> Any:
    """The object a dotted ``rrlib`` name refers to, or ``None``: attributes (read without running descriptors) of
    ``module`` if given, else of the longest importable prefix of ``name``.

    >>> find_object("rrlib.attacks.threat_models.ThreatModel") is find_object("rrlib.attacks.ThreatModel")
    True
    >>> find_object("rrlib.train.fit.fit").__module__, find_object("rrlib.train.fit", module="rrlib.train").__name__
    ('rrlib.train.fit', 'fit')
    >>> find_object("rrlib.no_such_name") is None
    True
    """
    parts = name.split(".")
    splits = [len(module.split("."))] if module else range(len(parts), 0, -1)
    for split in splits:
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                obj = inspect.getattr_static(obj, attribute)
        except AttributeError:
            return None
        return obj.__func__ if isinstance(obj, (classmethod, staticmethod)) else obj
    return None


def _documented(env) -> dict[int, str]:
    """``id(object)`` → the name the reference documents it under (the shortest, if several). An entry's object is
    read from the module it is documented in (``rrlib.train.fit``, documented in ``rrlib.train``, is the function
    ``fit``, not the module of that name)."""
    domain = env.get_domain("py")
    names: dict[int, str] = {}
    for name, entry in sorted(domain.objects.items(), key=lambda item: (len(item[0]), item[0])):
        if entry.objtype not in _LINKABLE or not name.startswith("rrlib.") or entry.aliased:
            continue
        module = name if entry.objtype == "module" else max(
            (m for m in domain.modules if name.startswith(m + ".")), key=len, default=None)
        obj = find_object(name, module=module)
        if obj is not None and not isinstance(obj, _SCALARS):
            names.setdefault(id(obj), name)
    return names


def _resolve(app, env, node, contnode):
    """``missing-reference``: an ``rrlib`` name the reference documents under another name links to that entry."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("rrlib."):
        return None
    obj = find_object(target)
    if isinstance(obj, TypeVar):  # a signature's type variable (``T``) is a placeholder, not a page to link to
        return contnode
    if obj is None or isinstance(obj, _SCALARS):
        return None
    # built once per write phase: every document has been read by now, so the domain knows every entry
    count = len(env.get_domain("py").objects)
    cache = getattr(app, "_rrbook_documented", None)
    if cache is None or cache[0] != count:
        cache = app._rrbook_documented = (count, _documented(env))
    documented = cache[1].get(id(obj))
    if documented is None or documented == target:
        return None
    return env.get_domain("py").resolve_xref(env, node.get("refdoc", ""), app.builder, node.get("reftype", "obj"),
                                             documented, node, contnode)


def inherits_foreign_docstring(owner: type, name: str) -> bool:
    """Whether ``owner.name`` has no docstring of its own and would show the one of a class outside ``rrlib`` (a
    torch module's ``forward`` or ``train``, whose docstrings are torch's and cross-reference torch's pages).

    >>> from rrlib.mi.critics import SeparableCritic
    >>> from rrlib.train.jobs import EncoderJob
    >>> inherits_foreign_docstring(SeparableCritic, "forward"), inherits_foreign_docstring(EncoderJob, "step")
    (True, False)
    """
    for cls in owner.__mro__:
        member = cls.__dict__.get(name)
        if member is None:
            continue
        if getattr(getattr(member, "__func__", member), "__doc__", None):
            return not cls.__module__.startswith("rrlib")
    return False


def _skip_foreign_docstring(app, what, name, obj, skip, options):
    """``autodoc-skip-member``: leave out a class member whose only docstring is another package's."""
    if what != "class" or skip:
        return None
    function = getattr(obj, "__func__", obj)
    owner_name, _, member = getattr(function, "__qualname__", "").rpartition(".")
    owner = find_object(f"{getattr(function, '__module__', '')}.{owner_name}") if owner_name else None
    if isinstance(owner, type) and member == name and inherits_foreign_docstring(owner, name):
        return True
    return None


def defining_comment(name: str, value: Any) -> list[str] | None:
    """The ``#:`` comment of module data ``name`` (``rrlib.models.CONV2_PATCH``) in the module that assigns it, when
    the documented module only imports it (autodoc reads comments of the documented module's own source only).

    >>> from rrlib import models
    >>> defining_comment("rrlib.models.CONV2_PATCH", models.CONV2_PATCH)
    ['(kernel, stride, padding) of the input patch that one second-layer location sees.', '']
    """
    from sphinx.pycode import ModuleAnalyzer

    attribute = name.rpartition(".")[2]
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("rrlib") or getattr(module, "__dict__", {}).get(attribute, _MISSING) is not value:
            continue
        try:
            comment = ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", attribute))
        except Exception:  # a module without source (a namespace package, a compiled one)
            continue
        if comment:
            return list(comment)
    return None


def _documenters():
    """autodoc's module and data documenters, extended to public module data that the documented module imports
    (``CONV2_PATCH``, in ``rrlib.models.__all__``, assigned in ``rrlib.models.baseline_h``) and that is documented
    where it is assigned (autodoc itself documents module data only when the documented module's own source carries
    its ``#:`` comment); a value too long for a line is left out of the data's signature."""
    from sphinx.ext.autodoc import DataDocumenter, ModuleDocumenter
    from sphinx.util.inspect import object_description

    def imported_comment(module: str, name: str, value: Any) -> list[str] | None:
        if inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value):
            return None
        return defining_comment(f"{module}.{name}", value)

    class PublicModuleDocumenter(ModuleDocumenter):
        def filter_members(self, members, want_all):
            kept = super().filter_members(members, want_all)
            public = self.__all__ if want_all and self.__all__ is not None else ()
            names = {name for name, _, _ in kept}
            kept += [(member.__name__, member.object, False) for member in members
                     if member.__name__ in public and member.__name__ not in names
                     and imported_comment(self.name, member.__name__, member.object)]
            return kept

    class PublicDataDocumenter(DataDocumenter):
        @classmethod
        def can_document_member(cls, member, membername, isattr, parent) -> bool:
            return super().can_document_member(member, membername, isattr, parent) or (
                isinstance(parent, ModuleDocumenter) and imported_comment(parent.name, membername, member) is not None)

        def should_suppress_value_header(self) -> bool:
            # a value longer than a line (rrlib.data.DATASETS: 3,000 characters) is a wall of text, not a signature
            return super().should_suppress_value_header() or len(object_description(self.object)) > _LONGEST_VALUE

        def get_doc(self) -> list[list[str]] | None:
            if self.get_module_comment(self.objpath[-1]):
                return super().get_doc()
            comment = defining_comment(self.fullname, self.object)
            return [comment] if comment else super().get_doc()

    return PublicModuleDocumenter, PublicDataDocumenter


def setup(app) -> dict[str, Any]:
    app.connect("missing-reference", _resolve)
    app.connect("autodoc-skip-member", _skip_foreign_docstring)
    app.setup_extension("sphinx.ext.autodoc")
    for documenter in _documenters():
        app.add_autodocumenter(documenter, override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
