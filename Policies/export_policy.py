#!/usr/bin/env python3
"""Export a trained policy into AdPilot's frozen policy format.

    export_policy.py sb3 MODEL.zip OUT_DIR --name N --version V --features f1,f2,... --multipliers 0.8,0.9,1.0,1.1,1.2
    export_policy.py state-dict STATE.pt OUT_DIR --name N --version V --features ... --multipliers ...
    export_policy.py random OUT_DIR --name N --version V --features ... --multipliers ... --sizes 15,128,64,10 --seed 7

`sb3` reads a Stable-Baselines3 DQN or PPO MlpPolicy (q_net / action_net and the shared
mlp_extractor); `state-dict` reads a plain PyTorch state_dict of nn.Linear layers (weights
`*.weight` [out, in], biases `*.bias`, in order); `random` writes fixed seeded weights (used
by AdPilot's tests). Only numpy is needed to write the format; torch and stable-baselines3
are imported only by the commands that read their files.

The format (see README, "Frozen policies"): OUT_DIR/NAME@VERSION/manifest.json plus one
little-endian float32 file per weight matrix and bias vector; the manifest lists every
file's SHA-256; the policy's digest is the SHA-256 of manifest.json.
"""
import argparse, hashlib, json, os, sys

import numpy as np


def write_policy(out_dir, name, version, features, layers, multipliers, provenance, activation="relu"):
    """layers: list of (W [out, in], b [out]) numpy arrays; hidden layers use `activation`, the last is identity."""
    directory = os.path.join(out_dir, f"{name}@{version}")
    os.makedirs(directory, exist_ok=True)
    files, specs = {}, []
    inputs = len(features)
    for i, (w, b) in enumerate(layers):
        w = np.asarray(w, dtype="<f4")
        b = np.asarray(b, dtype="<f4")
        assert w.shape == (b.shape[0], inputs), f"layer {i}: weight {w.shape} does not take {inputs} inputs"
        assert np.isfinite(w).all() and np.isfinite(b).all(), f"layer {i}: non-finite weights"
        for kind, array in (("w", w), ("b", b)):
            fname = f"layer{i}.{kind}.f32"
            data = array.tobytes(order="C")
            with open(os.path.join(directory, fname), "wb") as f:
                f.write(data)
            files[fname] = hashlib.sha256(data).hexdigest()
        specs.append({"weights": f"layer{i}.w.f32", "bias": f"layer{i}.b.f32", "inputs": inputs,
                      "outputs": int(w.shape[0]), "activation": "identity" if i == len(layers) - 1 else activation})
        inputs = int(w.shape[0])
    assert inputs == len(multipliers), f"{inputs} outputs for {len(multipliers)} multipliers"
    manifest = {
        "format": 1, "name": name, "version": version, "kind": "mlp" if len(layers) > 1 else "linear",
        "features": [{"name": f, "mean": 0.0, "std": 1.0} for f in features],
        "action": {"type": "multipliers", "values": [float(m) for m in multipliers],
                   "meaning": "Q-values over budget multipliers of the current daily budget; the argmax is proposed"},
        "layers": specs, "provenance": provenance, "files": files,
    }
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return directory


def forward(layers, x, activation="relu"):
    """numpy reference forward pass: x [n, in] -> Q-values [n, out], float32 throughout."""
    h = np.asarray(x, dtype=np.float32)
    for i, (w, b) in enumerate(layers):
        h = h @ np.asarray(w, dtype=np.float32).T + np.asarray(b, dtype=np.float32)
        if i < len(layers) - 1:
            h = np.maximum(h, 0) if activation == "relu" else np.tanh(h)
    return h


def linear_layers_from_state_dict(state):
    keys = [k[: -len(".weight")] for k in state if k.endswith(".weight")]
    return [(state[k + ".weight"].detach().cpu().numpy(), state[k + ".bias"].detach().cpu().numpy()) for k in keys]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", choices=["sb3", "state-dict", "random"])
    p.add_argument("paths", nargs="+", help="[MODEL] OUT_DIR")
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--multipliers", required=True)
    p.add_argument("--sizes", default="15,128,64,10")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    features, multipliers = a.features.split(","), [float(m) for m in a.multipliers.split(",")]
    if a.source == "random":
        rng = np.random.default_rng(a.seed)
        sizes = [int(s) for s in a.sizes.split(",")]
        layers = [(rng.standard_normal((o, i)).astype(np.float32) / np.sqrt(i), rng.standard_normal(o).astype(np.float32) * 0.1)
                  for i, o in zip(sizes, sizes[1:])]
        provenance = {"algorithm": "none (fixed random weights)", "library": f"numpy {np.__version__}", "data": "none",
                      "seed": a.seed, "metrics": {}}
        out = a.paths[0]
    else:
        import torch  # only for real models
        model_path, out = a.paths
        if a.source == "sb3":
            from stable_baselines3 import DQN, PPO
            model = (DQN if "dqn" in open(model_path, "rb").read(4096).decode("latin-1").lower() else PPO).load(model_path)
            policy = model.policy
            net = getattr(policy, "q_net", None)
            state = (net.state_dict() if net is not None else
                     {**{f"a.{k}": v for k, v in policy.mlp_extractor.policy_net.state_dict().items()},
                      **{f"z.{k}": v for k, v in policy.action_net.state_dict().items()}})
            library = "stable-baselines3"
        else:
            state = torch.load(model_path, map_location="cpu")
            library = f"torch {torch.__version__}"
        layers = linear_layers_from_state_dict(state)
        provenance = {"algorithm": a.source, "library": library, "data": model_path, "metrics": {}}
    print(write_policy(out, a.name, a.version, features, layers, multipliers, provenance))


if __name__ == "__main__":
    sys.exit(main())
