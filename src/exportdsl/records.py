"""Immutable value classes with slots: the syntax tree, the IR, spans, fact types and diagnostics.

``@record`` turns a class whose fields are annotated (``name: str``, ``negated: bool = False``,
``span: Span | None = field(default=None, eq=False, repr=False, kw_only=True)``) into a slotted,
frozen class with ``__init__``, ``__eq__``, ``__hash__``, ``__repr__``, ``__match_args__``,
pickling, and ``evolve(**changes)`` (a copy with some fields replaced). It follows attrs'
``@attrs.frozen(slots=True)`` in every behaviour the package relies on (field order, keyword-only
fields, fields left out of equality or repr, ``init=False`` fields, cached hashes), at a fraction of
its import cost: ``import exportdsl`` creates some fifty of these classes.

Equality, hashing and repr read the fields with one ``operator.attrgetter``. ``__init__`` is
generated as Python source and compiled, as attrs and dataclasses do, but only when the class's
first instance is made; the source is built only from the field names written in this package's
class bodies (checked to be identifiers), never from input.
"""

from __future__ import annotations

from operator import attrgetter

__all__ = ["FrozenError", "field", "record"]

_NOTHING = object()


class FrozenError(AttributeError):
    """Raised on an attempt to set or delete a field of a record (records are immutable)."""


class _Field:
    __slots__ = ("name", "default", "factory", "eq", "repr", "kw_only", "init")

    def __init__(self, default=_NOTHING, factory=None, eq=True, repr=True, kw_only=False, init=True):  # noqa: A002
        self.name = ""
        self.default, self.factory, self.eq, self.repr, self.kw_only, self.init = (
            default, factory, eq, repr, kw_only, init)

    def copy(self, name: str) -> "_Field":
        new = _Field(self.default, self.factory, self.eq, self.repr, self.kw_only, self.init)
        new.name = name
        return new


def field(*, default=_NOTHING, factory=None, eq: bool = True, repr: bool = True,  # noqa: A002
          kw_only: bool = False, init: bool = True):
    """A field with options: a ``default`` (or a ``factory`` called for each instance), left out of
    equality and hashing (``eq=False``) or of the repr, keyword-only, or not an ``__init__`` argument
    (``init=False``: it starts at its default)."""
    return _Field(default, factory, eq, repr, kw_only, init)


def _frozen_setattr(self, name, value):
    raise FrozenError(f"cannot assign to field {name!r} of an immutable {type(self).__name__}")


def _frozen_delattr(self, name):
    raise FrozenError(f"cannot delete field {name!r} of an immutable {type(self).__name__}")


def _getstate(self):
    return {name: getattr(self, name) for name in type(self).__record_slots__ if hasattr(self, name)}


def _setstate(self, state):
    for name, value in state.items():
        object.__setattr__(self, name, value)


def _evolve(self, **changes):
    """A copy of this record with the given fields replaced."""
    cls = type(self)
    values = {f.name: getattr(self, f.name) for f in cls.__record_fields__ if f.init}
    values.update(changes)
    return cls(**values)


def _compile(source: str, namespace: dict, name: str, qualname: str):
    code = compile(source, f"<record {qualname}>", "exec")
    exec(code, namespace)   # noqa: S102 - our own source, built from the class's field names
    function = namespace[name]
    function.__qualname__ = f"{qualname}.{name}"
    return function


def _no_key(record):
    return ()


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self.__record_key__
    return key(self) == key(other)


def _hash(self):
    return hash((self.__record_hash_key__, self.__record_key__(self)))


def _cached_hash(self):
    cached = self._record_hash
    if cached is None:
        cached = hash((self.__record_hash_key__, self.__record_key__(self)))
        object.__setattr__(self, "_record_hash", cached)
    return cached


def _repr(self):
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_shown__)
    return f"{type(self).__name__}({shown})"


def _init_source(cls) -> tuple[str, dict]:
    """The source of ``cls.__init__`` and the globals it needs (defaults and factories)."""
    ordered = cls.__record_fields__
    globs = {"_set": object.__setattr__, "_NOTHING": _NOTHING}
    params, body = [], []
    positional = [f for f in ordered if f.init and not f.kw_only]
    keyword = [f for f in ordered if f.init and f.kw_only]
    for group, star in ((positional, False), (keyword, True)):
        if star and group:
            params.append("*")
        for f in group:
            if f.factory is not None:
                params.append(f"{f.name}=_NOTHING")
                globs[f"_factory_{f.name}"] = f.factory
            elif f.default is not _NOTHING:
                globs[f"_default_{f.name}"] = f.default
                params.append(f"{f.name}=_default_{f.name}")
            else:
                params.append(f.name)
    for f in ordered:
        if not f.init:
            globs[f"_default_{f.name}"] = f.default
            body.append(f"_set(self, {f.name!r}, _default_{f.name})")
        elif f.factory is not None:
            body.append(f"_set(self, {f.name!r}, _factory_{f.name}() if {f.name} is _NOTHING else {f.name})")
        else:
            body.append(f"_set(self, {f.name!r}, {f.name})")
    if "_record_hash" in cls.__record_slots__:
        body.append("_set(self, '_record_hash', None)")
    return f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n", globs


def _lazy_init(self, *args, **kwargs):
    """Compiles the class's ``__init__`` on its first instance (a class never instantiated in a
    process costs nothing), installs it, and runs it."""
    cls = type(self)
    owner = next(c for c in cls.__mro__ if c.__dict__.get("__init__") is _lazy_init)
    source, globs = _init_source(owner)
    init = _compile(source, globs, "__init__", owner.__qualname__)
    owner.__init__ = init
    init(self, *args, **kwargs)


def _build(cls, eq: bool, cache_hash: bool):
    fields: dict[str, _Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in getattr(base, "__record_fields__", ()):
            fields[f.name] = f
    own: list[str] = []
    for name in cls.__dict__.get("__annotations__", {}):
        if name.startswith("__"):
            continue
        if not name.isidentifier():
            raise TypeError(f"bad field name {name!r}")
        value = cls.__dict__.get(name, _NOTHING)
        spec = value.copy(name) if isinstance(value, _Field) else _Field(default=value).copy(name)
        fields.pop(name, None)
        fields[name] = spec
        own.append(name)
    ordered = list(fields.values())
    namespace = {k: v for k, v in cls.__dict__.items() if k not in own and k not in ("__dict__", "__weakref__")}
    slots = list(own)
    if cache_hash:
        slots.append("_record_hash")
    inherited = tuple(s for base in cls.__mro__[1:] for s in base.__dict__.get("__record_slots__", ()))
    root = not any("__record_slots__" in base.__dict__ for base in cls.__mro__[1:])
    namespace["__slots__"] = tuple(slots) + (("__weakref__",) if root else ())   # weak references, as attrs allows
    namespace["__record_fields__"] = tuple(ordered)
    namespace["__record_slots__"] = inherited + tuple(slots)
    new = type(cls)(cls.__name__, cls.__bases__, namespace)
    new.__qualname__ = cls.__qualname__

    positional = [f for f in ordered if f.init and not f.kw_only]
    if "__init__" not in cls.__dict__:
        new.__init__ = _lazy_init
    compared = tuple(f.name for f in ordered if f.eq)
    key = attrgetter(*compared) if compared else _no_key
    new.__record_key__ = staticmethod(key)
    if eq and "__eq__" not in cls.__dict__:
        new.__eq__ = _eq
    if eq and "__hash__" not in cls.__dict__:
        new.__record_hash_key__ = f"{cls.__module__}.{cls.__qualname__}"
        new.__hash__ = _cached_hash if cache_hash else _hash
    if "__repr__" not in cls.__dict__:
        new.__record_shown__ = tuple(f.name for f in ordered if f.repr)
        new.__repr__ = _repr
    new.__match_args__ = tuple(f.name for f in positional)
    new.__setattr__ = _frozen_setattr
    new.__delattr__ = _frozen_delattr
    new.__getstate__ = _getstate
    new.__setstate__ = _setstate
    if "evolve" not in cls.__dict__:
        new.evolve = _evolve
    return new


def record(cls=None, *, eq: bool = True, cache_hash: bool = False):
    """Make ``cls`` an immutable slotted record of its annotated fields (see the module's docstring).

    ``eq=False`` keeps the class's own (or inherited) equality and hashing; ``cache_hash=True``
    computes the hash once per instance."""
    def wrap(klass):
        return _build(klass, eq, cache_hash)
    return wrap if cls is None else wrap(cls)
