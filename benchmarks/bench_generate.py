"""Speed of ``probekit generate`` against a bare pybullet loop doing the same work.

The peer ("pybullet alone") runs, for the same sampled clips, the same physics steps and the
same ``getCameraImage`` calls (reusing its clients across clips as probekit does) with ER_TINY_RENDERER: one full render with shadows per frame and
one render per object alone (the amodal masks), in plain pybullet calls without any label
computation or file writing. probekit's time includes planning, simulation, rendering, every
label, hashing and the HDF5 file; it runs without near-miss twins (``near_miss=False``), which the peer
does not make.

Usage::

    python benchmarks/bench_generate.py [--clips 48] [--frames 16] [--size 64] [--repeat 2]

Prints frames per second, the ratio of probekit's time to the peer's (goal <= 1.25) and the
speed-up of ``--workers 2`` over ``--workers 1``. Timings are best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def peer_run(specs) -> None:
    """Bare pybullet: the same bodies, steps and renders, no labels, no file.

    Like probekit, the peer reuses its DIRECT clients across clips (``resetSimulation``),
    since connecting costs about as much as a dozen small renders.
    """
    from probekit.worlds.bullet import pb, pybullet_data
    from probekit.worlds.camera import projection_matrix, view_matrix
    from probekit.worlds.textures import texture_file

    pool: list[int] = []

    def connect() -> int:
        client = pool.pop() if pool else pb.connect(pb.DIRECT)
        pb.resetSimulation(physicsClientId=client)
        return client

    for spec in specs:
        phys = connect()
        pb.setPhysicsEngineParameter(fixedTimeStep=spec.dt, numSubSteps=1, physicsClientId=phys)
        pb.setGravity(0, 0, -spec.gravity, physicsClientId=phys)
        pb.createMultiBody(0, pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=phys), physicsClientId=phys)

        def geometry(client, shape, he, visual):
            if shape == "sphere":
                kw = {"radius": he[0]}
                kind = pb.GEOM_SPHERE
            elif shape == "box":
                kw = {"halfExtents": list(he)}
                kind = pb.GEOM_BOX
            else:
                kind = pb.GEOM_CYLINDER
                kw = {"radius": he[0], ("length" if visual else "height"): 2 * he[2]}
            if visual:
                return pb.createVisualShape(kind, physicsClientId=client, **kw)
            return pb.createCollisionShape(kind, physicsClientId=client, **kw)

        for box in spec.scenery:
            pb.createMultiBody(0, geometry(phys, "box", box.half_extents, False), -1, box.position, box.orientation,
                               physicsClientId=phys)
        bodies = []
        for obj in spec.objects:
            body = pb.createMultiBody(obj.mass, geometry(phys, obj.shape, obj.half_extents, False), -1, obj.position,
                                      obj.orientation, physicsClientId=phys)
            pb.changeDynamics(body, -1, linearDamping=0, angularDamping=0, lateralFriction=obj.friction,
                              restitution=obj.restitution, physicsClientId=phys)
            pb.resetBaseVelocity(body, obj.velocity, obj.angular_velocity, physicsClientId=phys)
            bodies.append(body)
        # render clients: the scene, and each object alone
        scene = connect()
        pb.loadURDF(pybullet_data.getDataPath() + "/plane.urdf", physicsClientId=scene)
        for box in spec.scenery:
            pb.createMultiBody(0, -1, geometry(scene, "box", box.half_extents, True), box.position, box.orientation,
                               physicsClientId=scene)
        clients = [scene] + [connect() for _ in spec.objects]
        visuals = []
        for client_index, client in enumerate(clients):
            row = []
            for slot, obj in enumerate(spec.objects):
                if client_index not in (0, slot + 1):
                    row.append(None)
                    continue
                body = pb.createMultiBody(0, -1, geometry(client, obj.shape, obj.half_extents, True),
                                          physicsClientId=client)
                texture = pb.loadTexture(texture_file(obj.texture), physicsClientId=client)
                pb.changeVisualShape(body, -1, textureUniqueId=texture, rgbaColor=[*obj.color, 1],
                                     physicsClientId=client)
                row.append(body)
            visuals.append(row)
        view, proj, s = view_matrix(spec.camera), projection_matrix(spec.camera), spec.image_size
        for _ in range(spec.n_frames):
            for _ in range(spec.substeps):
                pb.stepSimulation(physicsClientId=phys)
            poses = [pb.getBasePositionAndOrientation(b, physicsClientId=phys) for b in bodies]
            for client, row in zip(clients, visuals):
                for body, (pos, quat) in zip(row, poses):
                    if body is not None:
                        pb.resetBasePositionAndOrientation(body, pos, quat, physicsClientId=client)
            pb.getCameraImage(s, s, view, proj, shadow=1, lightDirection=list(spec.light.direction),
                              renderer=pb.ER_TINY_RENDERER, physicsClientId=scene)
            for client in clients[1:]:
                pb.getCameraImage(s, s, view, proj, shadow=0, renderer=pb.ER_TINY_RENDERER, physicsClientId=client)
        pool.extend([phys, *clients])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from probekit.worlds import generate_world
    from probekit.worlds.generator import DEFAULT_SCENARIOS, plan
    from probekit.worlds.scenarios import SCENARIOS

    jobs = plan(args.clips, 0, DEFAULT_SCENARIOS, args.frames, args.fps, args.size, (), False)
    specs = [SCENARIOS[job.scenario](np.random.default_rng(job.seed), args.frames, args.fps, args.size) for job in jobs]
    n_frames = args.clips * args.frames
    folder = Path(tempfile.mkdtemp(prefix="bench-generate-"))

    cpu: dict[str, float] = {}

    def cpu_seconds() -> float:
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime

    def best(fn, name: str) -> float:
        times = []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), cpu_seconds()
            fn()
            times.append(time.perf_counter() - start)
            cpu[name] = min(cpu.get(name, float("inf")), cpu_seconds() - start_cpu)
        return min(times)

    def ours(workers: int):  # the originals only, as the peer makes them (near-miss twins would add clips)
        return lambda: generate_world(folder / f"w{workers}.h5", clips=args.clips, seed=0, frames=args.frames, size=args.size,
                                      fps=args.fps, workers=workers, near_miss=False, overwrite=True, progress=False)

    def processes(count: int):
        """``count`` independent single-worker runs of half the clips at once, each its own interpreter:
        two side by side against one alone is the machine's own ceiling for 2 workers."""
        import subprocess

        half = max(1, args.clips // 2)
        command = [sys.executable, "-c", "import sys; from probekit.worlds import generate_world; "
                   f"generate_world(sys.argv[1], clips={half}, seed=int(sys.argv[2]), frames={args.frames}, size={args.size}, "
                   f"fps={args.fps}, near_miss=False, overwrite=True, progress=False)"]
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))

        def run():
            running = [subprocess.Popen(command + [str(folder / f"side{i}.h5"), str(i)], env=env) for i in range(count)]
            if any(p.wait() for p in running):
                raise SystemExit("side-by-side generate failed")
        return run

    peer = best(lambda: peer_run(specs), "peer")
    one = best(ours(1), "one")
    two = best(ours(2), "two")
    single = best(processes(1), "alone")
    pair = best(processes(2), "pair")
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at the end (a shared machine: "
          f"wall-clock timings are indicative, CPU seconds less so)")
    print(f"work: {args.clips} clips x {args.frames} frames at {args.size} px, all scenarios, "
          f"{sum(len(s.objects) for s in specs) * args.frames} amodal renders")
    print(f"pybullet alone        : {peer:7.2f} s wall {cpu['peer']:7.2f} s CPU  {n_frames / peer:7.1f} frames/s")
    print(f"probekit --workers 1  : {one:7.2f} s wall {cpu['one']:7.2f} s CPU  {n_frames / one:7.1f} frames/s  "
          f"ratio {one / peer:.2f} wall, {cpu['one'] / cpu['peer']:.2f} CPU (goal <= 1.25)")
    print(f"probekit --workers 2  : {two:7.2f} s wall {cpu['two']:7.2f} s CPU  {n_frames / two:7.1f} frames/s  "
          f"speed-up {one / two:.2f}x wall")
    print(f"two independent runs of {max(1, args.clips // 2)} clips side by side: {pair:.2f} s against {single:.2f} s alone: "
          f"each {pair / single:.2f}x slower, so this machine's ceiling for 2 workers is {2 * single / pair:.2f}x "
          f"(both sides include an interpreter's start-up)")


if __name__ == "__main__":
    main()
