"""Primitive soup: the world's geometry as a structure of arrays.

Every surface in a scene except the ground plane (z = 0) is one of three primitive kinds:

* ``SPHERE``  -- centre ``a``, ``radius``; ``b`` unused (zeros).
* ``CAPSULE`` -- segment from ``a`` to ``b`` swept by ``radius`` (trunks, branches, limbs).
* ``DISC``    -- centre ``a``, unit normal ``b``, ``radius``; alpha-tested with a procedural
  leaf pattern, so a disc stands for a twig carrying several leaves.

Per-primitive material data (apparent temperature with emissivity folded in, RGB albedo) is
computed once when the world is built, so the renderer only looks it up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPHERE, CAPSULE, DISC = 0, 1, 2
LABEL_NONE, LABEL_GROUND, LABEL_WOOD, LABEL_FOLIAGE, LABEL_TARGET = -1, 0, 1, 2, 3


@dataclass(frozen=True)
class Primitives:
    """n primitives, structure of arrays.

    Attributes:
        kind: (n,) int8, one of ``SPHERE``, ``CAPSULE``, ``DISC``.
        a: (n, 3) float32, centre (sphere, disc) or segment start (capsule), metres.
        b: (n, 3) float32, segment end (capsule), unit normal (disc), zeros (sphere).
        radius: (n,) float32, metres.
        label: (n,) int8, ``LABEL_WOOD``, ``LABEL_FOLIAGE`` or ``LABEL_TARGET``.
        owner: (n,) int32, index of the tree or target the primitive belongs to (-1: none).
        temperature: (n,) float32, apparent surface temperature in degrees Celsius.
        albedo: (n, 3) float32, linear RGB reflectance in [0, 1].
    """

    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    radius: np.ndarray
    label: np.ndarray
    owner: np.ndarray
    temperature: np.ndarray
    albedo: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.kind)
        expected = {
            "kind": ((n,), np.int8),
            "a": ((n, 3), np.float32),
            "b": ((n, 3), np.float32),
            "radius": ((n,), np.float32),
            "label": ((n,), np.int8),
            "owner": ((n,), np.int32),
            "temperature": ((n,), np.float32),
            "albedo": ((n, 3), np.float32),
        }
        for name, (shape, dtype) in expected.items():
            value = getattr(self, name)
            if value.shape != shape or value.dtype != dtype:
                raise ValueError(
                    f"Primitives.{name}: expected shape {shape} dtype {np.dtype(dtype)}, "
                    f"got {value.shape} {value.dtype}"
                )

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def empty(cls) -> Primitives:
        return cls.create(kind=np.zeros(0, np.int8), a=np.zeros((0, 3)), radius=np.zeros(0))

    @classmethod
    def create(
        cls,
        *,
        kind: np.ndarray | int,
        a: np.ndarray,
        radius: np.ndarray | float,
        b: np.ndarray | None = None,
        label: np.ndarray | int = LABEL_WOOD,
        owner: np.ndarray | int = -1,
        temperature: np.ndarray | float = 0.0,
        albedo: np.ndarray | tuple[float, float, float] = (0.5, 0.5, 0.5),
    ) -> Primitives:
        """Build primitives from array-likes, broadcasting scalars to all n primitives."""
        a = np.asarray(a, np.float32).reshape(-1, 3)
        n = len(a)
        b = np.zeros((n, 3), np.float32) if b is None else np.asarray(b, np.float32).reshape(n, 3)
        return cls(
            kind=np.broadcast_to(np.asarray(kind, np.int8), (n,)).copy(),
            a=np.ascontiguousarray(a),
            b=np.ascontiguousarray(b),
            radius=np.broadcast_to(np.asarray(radius, np.float32), (n,)).copy(),
            label=np.broadcast_to(np.asarray(label, np.int8), (n,)).copy(),
            owner=np.broadcast_to(np.asarray(owner, np.int32), (n,)).copy(),
            temperature=np.broadcast_to(np.asarray(temperature, np.float32), (n,)).copy(),
            albedo=np.broadcast_to(np.asarray(albedo, np.float32), (n, 3)).copy(),
        )

    def replace(self, **arrays: np.ndarray) -> Primitives:
        """A copy with some per-primitive arrays replaced (validated like the original)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields.update(arrays)
        return Primitives(**fields)

    def subset(self, index: np.ndarray) -> Primitives:
        """The primitives selected by a boolean mask or index array."""
        names = self.__dataclass_fields__
        return Primitives(**{name: getattr(self, name)[index] for name in names})

    def bounds(self) -> np.ndarray:
        """(n, 2, 3) float32 axis-aligned bounding boxes: ``[:, 0]`` lower, ``[:, 1]`` upper."""
        return primitive_bounds(self.kind, self.a, self.b, self.radius)


def concatenate(parts: list[Primitives]) -> Primitives:
    """Join primitive sets in order (indices of later parts are shifted)."""
    if not parts:
        return Primitives.empty()
    names = Primitives.__dataclass_fields__
    return Primitives(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


def primitive_bounds(
    kind: np.ndarray, a: np.ndarray, b: np.ndarray, radius: np.ndarray
) -> np.ndarray:
    """(n, 2, 3) tight axis-aligned boxes of spheres, capsules and discs."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    r = radius.astype(np.float64)[:, None]
    lo = a - r
    hi = a + r
    cap = kind == CAPSULE
    lo[cap] = np.minimum(a[cap], b[cap]) - r[cap]
    hi[cap] = np.maximum(a[cap], b[cap]) + r[cap]
    disc = kind == DISC
    # A disc of radius r with unit normal n extends r*sqrt(1 - n_i^2) along axis i.
    ext = r[disc] * np.sqrt(np.clip(1.0 - b[disc] ** 2, 0.0, 1.0))
    lo[disc] = a[disc] - ext
    hi[disc] = a[disc] + ext
    return np.stack([lo, hi], axis=1).astype(np.float32)


def heading_vector(yaw: np.ndarray | float) -> np.ndarray:
    """Unit forward vector(s) (..., 2) of a heading in radians.

    The heading convention of the whole project: yaw 0 points north (+y) and positive yaw turns
    counter-clockwise seen from above, so the forward vector is ``(-sin yaw, cos yaw)``.
    """
    yaw = np.asarray(yaw, np.float64)
    return np.stack([-np.sin(yaw), np.cos(yaw)], axis=-1)


def vector_heading(direction: np.ndarray) -> np.ndarray:
    """Heading in radians of horizontal direction vector(s) (..., 2); inverse of heading_vector."""
    direction = np.asarray(direction, np.float64)
    return np.arctan2(-direction[..., 0], direction[..., 1])
