"""Ray-casting device functions shared by the CPU (numba) and CUDA (numba.cuda) kernels.

Everything here is ``register_jitable``: compiled into whichever kernel calls it, on either
target, so the two backends run the same arithmetic. Functions take scalars and arrays only.

Hit codes returned by :func:`trace`: ``HIT_NONE`` (the ray leaves the scene), ``HIT_GROUND``
(plane z = 0), ``HIT_STATIC`` (index into the static primitives), ``HIT_TARGET`` (index into
the target primitives of the current time).
"""

from __future__ import annotations

import math

from numba.extending import register_jitable

HIT_NONE, HIT_GROUND, HIT_STATIC, HIT_TARGET = 0, 1, 2, 3
INF = math.inf

#: Layout of the float64 ``light`` parameter vector.
(
    L_SUN_X,
    L_SUN_Y,
    L_SUN_Z,
    L_AMBIENT,
    L_DIRECT,
    L_SKY_TEMP,
    L_SKY_R,
    L_SKY_G,
    L_SKY_B,
    L_GROUND_X0,
    L_GROUND_Y0,
    L_GROUND_CELL,
    L_LEAF_FILL,
) = range(13)
LIGHT_SIZE = 13

#: Edge of the leaf lattice of twig discs, in disc radii.
LEAF_CELL = 0.3


@register_jitable
def ray_sphere(ox, oy, oz, dx, dy, dz, cx, cy, cz, r, tmin, tmax):
    """Nearest t in (tmin, tmax) where the unit-direction ray meets the sphere, else inf."""
    px = ox - cx
    py = oy - cy
    pz = oz - cz
    b = px * dx + py * dy + pz * dz
    c = px * px + py * py + pz * pz - r * r
    h = b * b - c
    if h < 0.0:
        return INF
    s = math.sqrt(h)
    t = -b - s
    if t <= tmin:
        t = -b + s
    if t <= tmin or t >= tmax:
        return INF
    return t


@register_jitable
def ray_capsule(ox, oy, oz, dx, dy, dz, ax, ay, az, bx, by, bz, r, tmin, tmax):
    """Nearest hit of the capsule (segment a-b swept by r): min over its cylinder and end caps.

    Both caps lie inside the infinite cylinder around the axis, so a ray that misses that
    cylinder misses the capsule: most tests end there, before any square root.
    """
    ux = bx - ax
    uy = by - ay
    uz = bz - az
    px = ox - ax
    py = oy - ay
    pz = oz - az
    uu = ux * ux + uy * uy + uz * uz
    ud = ux * dx + uy * dy + uz * dz
    up = ux * px + uy * py + uz * pz
    dp = dx * px + dy * py + dz * pz
    pp = px * px + py * py + pz * pz
    qa = uu - ud * ud
    parallel = qa <= 1e-12 * uu
    if not parallel:
        qb = uu * dp - up * ud
        qc = uu * pp - up * up - r * r * uu
        h = qb * qb - qa * qc
        if h < 0.0:
            return INF
    best = ray_sphere(ox, oy, oz, dx, dy, dz, ax, ay, az, r, tmin, tmax)
    t = ray_sphere(ox, oy, oz, dx, dy, dz, bx, by, bz, r, tmin, tmax)
    if t < best:
        best = t
    if parallel:
        return best  # ray along the axis: only the caps can be hit first
    s = math.sqrt(h)
    t = (-qb - s) / qa
    if tmin < t < best and 0.0 < up + t * ud < uu:
        return t
    t = (-qb + s) / qa  # the far wall, seen from inside the infinite cylinder
    if tmin < t < best and 0.0 < up + t * ud < uu:
        return t
    return best


@register_jitable
def leaf_opaque(px, py, pz, r, index, fill):
    """Procedural twig alpha: is the point ``p`` (relative to the disc centre) on a leaf?

    Space around the disc is cut into a lattice of leaf-sized cells (``LEAF_CELL`` times the disc
    radius) and each cell is opaque with probability ``fill``, decided by an integer hash of the
    cell and the disc index. The disc plane cuts the lattice into patches of leaves, so the
    covered fraction of a disc is ``fill`` in expectation, without trigonometry or a tangent
    basis. All integer arithmetic is masked to 32 bits so that Python and numba agree.
    """
    scale = 1.0 / (LEAF_CELL * r)
    ix = int(math.floor(px * scale))
    iy = int(math.floor(py * scale))
    iz = int(math.floor(pz * scale))
    h = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791) ^ (int(index) * 2654435761)
    h = h & 0xFFFFFFFF
    h = ((h ^ (h >> 15)) * 2246822519) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 3266489917) & 0xFFFFFFFF
    h = h ^ (h >> 16)
    return (h & 0xFFFFFF) < fill * 16777216.0


@register_jitable
def ray_disc(ox, oy, oz, dx, dy, dz, cx, cy, cz, nx, ny, nz, r, tmin, tmax, index, leaf_fill):
    """Hit distance of an alpha-tested twig disc, inf if missed or the pattern is transparent."""
    den = dx * nx + dy * ny + dz * nz
    if abs(den) < 1e-12:
        return INF
    t = ((cx - ox) * nx + (cy - oy) * ny + (cz - oz) * nz) / den
    if t <= tmin or t >= tmax:
        return INF
    px = ox + t * dx - cx
    py = oy + t * dy - cy
    pz = oz + t * dz - cz
    if px * px + py * py + pz * pz > r * r:
        return INF
    if leaf_fill < 1.0 and not leaf_opaque(px, py, pz, r, index, leaf_fill):
        return INF
    return t


@register_jitable(inline="always")
def hit_primitive(packed, k, ox, oy, oz, dx, dy, dz, tmin, tmax, leaf_fill):
    """Hit distance of the ray with packed primitive ``k`` (layout of ``grid.pack_primitives``)."""
    kind = int(packed[k, 7])
    r = packed[k, 3]
    if kind == 2:
        return ray_disc(
            ox, oy, oz, dx, dy, dz, packed[k, 0], packed[k, 1], packed[k, 2],
            packed[k, 4], packed[k, 5], packed[k, 6], r, tmin, tmax, k, leaf_fill,
        )  # fmt: skip
    if kind == 1:
        return ray_capsule(
            ox, oy, oz, dx, dy, dz, packed[k, 0], packed[k, 1], packed[k, 2],
            packed[k, 4], packed[k, 5], packed[k, 6], r, tmin, tmax,
        )  # fmt: skip
    return ray_sphere(
        ox, oy, oz, dx, dy, dz, packed[k, 0], packed[k, 1], packed[k, 2], r, tmin, tmax
    )


@register_jitable
def hit_ground_or_target(ox, oy, oz, dx, dy, dz, tmax, tpacked, tbound, tstart):
    """First hit ``(t, hit_code, index)`` of the ray with the ground or a target before tmax.

    The few target primitives are tested only where the ray meets their target's bounding sphere.
    """
    best = tmax
    code = HIT_NONE
    index = -1
    if dz < 0.0:
        tg = -oz / dz
        if 0.0 < tg < best:
            best = tg
            code = HIT_GROUND
    for j in range(tbound.shape[0]):
        if ray_sphere(ox, oy, oz, dx, dy, dz, tbound[j, 0], tbound[j, 1], tbound[j, 2],
                      tbound[j, 3], -INF, best) == INF:  # fmt: skip
            continue
        for k in range(tstart[j], tstart[j + 1]):
            t = hit_primitive(tpacked, k, ox, oy, oz, dx, dy, dz, 0.0, best, 1.0)
            if t < best:
                best = t
                code = HIT_TARGET
                index = k
    return best, code, index


@register_jitable
def trace(ox, oy, oz, dx, dy, dz, tmax, packed, leaf_fill,
          glo, gcell, gdims, gstart, gitems, gtop, tpacked, tbound, tstart):  # fmt: skip
    """First hit of a unit-direction ray: returns ``(t, hit_code, index)``.

    The ground plane and the few target primitives (behind one bounding sphere per target) are
    tested first; their distance bounds the walk through the voxel grid of static primitives.
    """
    best, code, index = hit_ground_or_target(ox, oy, oz, dx, dy, dz, tmax, tpacked, tbound, tstart)

    # Clip the ray to the grid box (slab method).
    t0 = 0.0
    t1 = best
    lox = glo[0]
    loy = glo[1]
    loz = glo[2]
    nxc = gdims[0]
    nyc = gdims[1]
    nzc = gdims[2]
    for axis in range(3):
        o = ox if axis == 0 else (oy if axis == 1 else oz)
        d = dx if axis == 0 else (dy if axis == 1 else dz)
        lo = glo[axis]
        hi = lo + gcell * gdims[axis]
        if abs(d) < 1e-15:
            if o < lo or o > hi:
                return best, code, index
        else:
            ta = (lo - o) / d
            tb = (hi - o) / d
            if ta > tb:
                ta, tb = tb, ta
            if ta > t0:
                t0 = ta
            if tb < t1:
                t1 = tb
    if t0 >= t1:
        return best, code, index

    px = ox + t0 * dx
    py = oy + t0 * dy
    pz = oz + t0 * dz
    ix = min(max(int((px - lox) / gcell), 0), nxc - 1)
    iy = min(max(int((py - loy) / gcell), 0), nyc - 1)
    iz = min(max(int((pz - loz) / gcell), 0), nzc - 1)
    if dx > 0.0:
        sx = 1
        nextx = (lox + (ix + 1) * gcell - ox) / dx
        deltax = gcell / dx
    elif dx < 0.0:
        sx = -1
        nextx = (lox + ix * gcell - ox) / dx
        deltax = -gcell / dx
    else:
        sx = 0
        nextx = INF
        deltax = INF
    if dy > 0.0:
        sy = 1
        nexty = (loy + (iy + 1) * gcell - oy) / dy
        deltay = gcell / dy
    elif dy < 0.0:
        sy = -1
        nexty = (loy + iy * gcell - oy) / dy
        deltay = -gcell / dy
    else:
        sy = 0
        nexty = INF
        deltay = INF
    if dz > 0.0:
        sz = 1
        nextz = (loz + (iz + 1) * gcell - oz) / dz
        deltaz = gcell / dz
    elif dz < 0.0:
        sz = -1
        nextz = (loz + iz * gcell - oz) / dz
        deltaz = -gcell / dz
    else:
        sz = 0
        nextz = INF
        deltaz = INF

    while True:
        top = gtop[iy, ix]
        if dz < 0.0 and iz > top:
            # Everything in this column above level `top` is empty: drop to it, or leave the
            # column sideways if the ray exits it first.
            tdrop = (loz + (top + 1) * gcell - oz) / dz
            tside = min(nextx, nexty)
            if tdrop < tside:
                if top < 0 or tdrop >= t1:
                    break
                iz = top
                nextz = (loz + top * gcell - oz) / dz
            else:
                if tside >= t1:
                    break
                if nextx <= nexty:
                    ix += sx
                    if ix < 0 or ix >= nxc:
                        break
                    nextx += deltax
                else:
                    iy += sy
                    if iy < 0 or iy >= nyc:
                        break
                    nexty += deltay
                iz = min(max(int((oz + tside * dz - loz) / gcell), 0), nzc - 1)
                nextz = (loz + iz * gcell - oz) / dz
                continue
        c = iz + nzc * (ix + nxc * iy)
        texit = min(nextx, min(nexty, nextz))
        for m in range(gstart[c], gstart[c + 1]):
            k = gitems[m]
            t = hit_primitive(packed, k, ox, oy, oz, dx, dy, dz, 0.0, best, leaf_fill)
            if t < best:
                best = t
                code = HIT_STATIC
                index = k
        if best <= texit or texit >= t1:
            break
        if nextx <= nexty and nextx <= nextz:
            ix += sx
            if ix < 0 or ix >= nxc:
                break
            nextx += deltax
        elif nexty <= nextz:
            iy += sy
            if iy < 0 or iy >= nyc:
                break
            nexty += deltay
        else:
            iz += sz
            if iz < 0 or iz >= nzc:
                break
            nextz += deltaz
    return best, code, index


@register_jitable
def surface_normal(packed, k, px, py, pz, dx, dy, dz):
    """Unit normal at hit point p of primitive k, facing the incoming ray."""
    kind = int(packed[k, 7])
    ax = packed[k, 0]
    ay = packed[k, 1]
    az = packed[k, 2]
    if kind == 2:
        nx = packed[k, 4]
        ny = packed[k, 5]
        nz = packed[k, 6]
    else:
        if kind == 1:
            ux = packed[k, 4] - ax
            uy = packed[k, 5] - ay
            uz = packed[k, 6] - az
            uu = ux * ux + uy * uy + uz * uz
            s = 0.0
            if uu > 0.0:
                s = ((px - ax) * ux + (py - ay) * uy + (pz - az) * uz) / uu
                s = min(max(s, 0.0), 1.0)
            ax += s * ux
            ay += s * uy
            az += s * uz
        nx = px - ax
        ny = py - ay
        nz = pz - az
        norm = math.sqrt(nx * nx + ny * ny + nz * nz)
        if norm > 0.0:
            nx /= norm
            ny /= norm
            nz /= norm
    if nx * dx + ny * dy + nz * dz > 0.0:
        nx = -nx
        ny = -ny
        nz = -nz
    return nx, ny, nz


@register_jitable(inline="always")
def bilinear_weights(rows, cols, x0, y0, cell, x, y):
    """Corner indices and weights of a bilinear sample of a raster (rows along y from y0,
    columns along x from x0), clamped at the edges: ``(i0, i1, j0, j1, wy, wx)``."""
    fx = min(max((x - x0) / cell - 0.5, 0.0), cols - 1.0)
    fy = min(max((y - y0) / cell - 0.5, 0.0), rows - 1.0)
    i0 = int(fy)
    j0 = int(fx)
    i1 = min(i0 + 1, rows - 1)
    j1 = min(j0 + 1, cols - 1)
    return i0, i1, j0, j1, fy - i0, fx - j0


@register_jitable(inline="always")
def sample(raster, ch, i0, i1, j0, j1, wy, wx):
    """Bilinear sample of channel ``ch`` of a (rows, cols, channels) raster."""
    top = (1.0 - wx) * raster[i0, j0, ch] + wx * raster[i0, j1, ch]
    bottom = (1.0 - wx) * raster[i1, j0, ch] + wx * raster[i1, j1, ch]
    return (1.0 - wy) * top + wy * bottom


@register_jitable(inline="always")
def encode_srgb(x):
    """Linear radiance in [0, 1] to 8 bits with display gamma 2 (a square root: pow is slow)."""
    x = min(max(x, 0.0), 1.0)
    return int(255.0 * math.sqrt(x) + 0.5)


@register_jitable(inline="always")
def shade(code, index, t, ox, oy, oz, dx, dy, dz, packed, labels, temperature, albedo,
          sunlit, tpacked, towner, ttemperature, talbedo, tsunlit, ground, light):  # fmt: skip
    """Radiometry of a hit: ``(thermal degC, r, g, b linear, label, target index or -1)``.

    Static primitives carry precomputed apparent temperatures and sun exposure; RGB adds a
    Lambert term with the surface normal (two-sided for leaves, which are translucent).
    """
    if code == HIT_NONE:
        return light[L_SKY_TEMP], light[L_SKY_R], light[L_SKY_G], light[L_SKY_B], -1, -1
    px = ox + t * dx
    py = oy + t * dy
    pz = oz + t * dz
    if code == HIT_GROUND:
        i0, i1, j0, j1, wy, wx = bilinear_weights(
            ground.shape[0], ground.shape[1], light[L_GROUND_X0], light[L_GROUND_Y0],
            light[L_GROUND_CELL], px, py,
        )  # fmt: skip
        return (
            sample(ground, 0, i0, i1, j0, j1, wy, wx),
            sample(ground, 1, i0, i1, j0, j1, wy, wx),
            sample(ground, 2, i0, i1, j0, j1, wy, wx),
            sample(ground, 3, i0, i1, j0, j1, wy, wx),
            0,
            -1,
        )
    sx = light[L_SUN_X]
    sy = light[L_SUN_Y]
    sz = light[L_SUN_Z]
    if code == HIT_STATIC:
        nx, ny, nz = surface_normal(packed, index, px, py, pz, dx, dy, dz)
        cos_sun = nx * sx + ny * sy + nz * sz
        if int(packed[index, 7]) == 2:
            cos_sun = abs(cos_sun)
        cos_sun = max(cos_sun, 0.0)
        irr = light[L_AMBIENT] + light[L_DIRECT] * sunlit[index] * cos_sun
        return (
            temperature[index],
            albedo[index, 0] * irr,
            albedo[index, 1] * irr,
            albedo[index, 2] * irr,
            labels[index],
            -1,
        )
    nx, ny, nz = surface_normal(tpacked, index, px, py, pz, dx, dy, dz)
    cos_sun = max(nx * sx + ny * sy + nz * sz, 0.0)
    irr = light[L_AMBIENT] + light[L_DIRECT] * tsunlit[index] * cos_sun
    return (
        ttemperature[index],
        talbedo[index, 0] * irr,
        talbedo[index, 1] * irr,
        talbedo[index, 2] * irr,
        3,
        towner[index],
    )


@register_jitable(inline="always")
def pixel_ray(c, i, j, cams, focal, width, height):
    """Origin and unit direction of the ray through pixel (row i, column j) of camera c."""
    xc = (j + 0.5 - 0.5 * width) / focal
    yc = (i + 0.5 - 0.5 * height) / focal
    dx = xc * cams[c, 3] + yc * cams[c, 6] + cams[c, 9]
    dy = xc * cams[c, 4] + yc * cams[c, 7] + cams[c, 10]
    dz = xc * cams[c, 5] + yc * cams[c, 8] + cams[c, 11]
    norm = math.sqrt(dx * dx + dy * dy + dz * dz)
    return cams[c, 0], cams[c, 1], cams[c, 2], dx / norm, dy / norm, dz / norm


@register_jitable
def trace_pixel(c, i, j, cams, focal, width, height, packed, leaf_fill, glo, gcell, gdims,
                gstart, gitems, gtop, tpacked, tbound, tstart):  # fmt: skip
    """First hit ``(t, hit_code, index)`` of the ray through pixel (i, j) of camera c."""
    ox, oy, oz, dx, dy, dz = pixel_ray(c, i, j, cams, focal, width, height)
    return trace(ox, oy, oz, dx, dy, dz, INF, packed, leaf_fill, glo, gcell, gdims, gstart,
                 gitems, gtop, tpacked, tbound, tstart)  # fmt: skip


@register_jitable(inline="always")
def shade_pixel(c, i, j, t, code, index, cams, focal, width, height, packed, labels,
                temperature, albedo, sunlit, tpacked, towner, ttemperature, talbedo, tsunlit,
                ground, light, out_thermal, out_rgb, out_depth, out_label, out_target):  # fmt: skip
    """Shade the first hit ``(t, code, index)`` of pixel (i, j) of camera c into the outputs."""
    ox, oy, oz, dx, dy, dz = pixel_ray(c, i, j, cams, focal, width, height)
    temp, r, g, b, label, target = shade(
        code, index, t, ox, oy, oz, dx, dy, dz, packed, labels, temperature, albedo, sunlit,
        tpacked, towner, ttemperature, talbedo, tsunlit, ground, light,
    )  # fmt: skip
    out_thermal[c, i, j] = temp
    out_rgb[c, i, j, 0] = encode_srgb(r)
    out_rgb[c, i, j, 1] = encode_srgb(g)
    out_rgb[c, i, j, 2] = encode_srgb(b)
    out_depth[c, i, j] = t
    out_label[c, i, j] = label
    out_target[c, i, j] = target


@register_jitable
def render_pixel(c, i, j, cams, focal, width, height, packed, labels, temperature, albedo,
                 sunlit, leaf_fill, glo, gcell, gdims, gstart, gitems, gtop, tpacked, towner,
                 ttemperature, talbedo, tsunlit, tbound, tstart, ground, light,
                 out_thermal, out_rgb, out_depth, out_label, out_target):  # fmt: skip
    """Trace and shade pixel (row i, column j) of camera c and write it to the outputs.

    The per-thread body of the CUDA kernel; the CPU kernel calls the two halves in separate
    loops over an image row.
    """
    t, code, index = trace_pixel(c, i, j, cams, focal, width, height, packed, leaf_fill, glo,
                                 gcell, gdims, gstart, gitems, gtop, tpacked, tbound,
                                 tstart)  # fmt: skip
    shade_pixel(c, i, j, t, code, index, cams, focal, width, height, packed, labels,
                temperature, albedo, sunlit, tpacked, towner, ttemperature, talbedo, tsunlit,
                ground, light, out_thermal, out_rgb, out_depth, out_label, out_target)  # fmt: skip


@register_jitable
def cast_ray(m, origins, dirs, tmax, packed, leaf_fill, glo, gcell, gdims, gstart, gitems, gtop,
             tpacked, tbound, tstart, out_t, out_code, out_index):  # fmt: skip
    """First hit of ray m of a batch, written to the outputs."""
    t, code, index = trace(
        origins[m, 0], origins[m, 1], origins[m, 2], dirs[m, 0], dirs[m, 1], dirs[m, 2],
        tmax[m], packed, leaf_fill, glo, gcell, gdims, gstart, gitems, gtop, tpacked, tbound,
        tstart,
    )  # fmt: skip
    out_t[m] = t
    out_code[m] = code
    out_index[m] = index
