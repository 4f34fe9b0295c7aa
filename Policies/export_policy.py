#!/usr/bin/env python3
"""Export a trained policy into AdPilot's frozen policy format.

    export_policy.py sb3 MODEL.zip OUT_DIR --name N --version V --features f1,f2,... --multipliers 0.8,0.9,1.0,1.1,1.2
    export_policy.py state-dict STATE.pt OUT_DIR --name N --version V --features ... --multipliers ...
    export_policy.py onnx POLICY.onnx OUT_DIR --name N --version V --features ... --multipliers ...
    export_policy.py onnx POLICY.onnx OUT_DIR --name N --version V --features ... --range 0.8,1.25
    export_policy.py random OUT_DIR --name N --version V --features ... --multipliers ... --sizes 15,128,64,10 --seed 7

`sb3` reads a Stable-Baselines3 DQN or PPO MlpPolicy with a discrete action space (DQN's
q_net; PPO's mlp_extractor.policy_net and action_net), with the policy's own activation
(SB3's defaults: ReLU for DQN, Tanh for PPO); `state-dict` reads a plain PyTorch state_dict
of nn.Linear layers (weights `*.weight` [out, in], biases `*.bias`, in order); `onnx` reads
an MLP exported to ONNX (torch.onnx.export, d3rlpy's save_policy("policy.onnx")): Gemm or
MatMul+Add layers with Relu or Tanh between them, an optional leading Sub/Div (or Mul) by
constants (an observation scaler: it becomes the features' mean and std), and an optional
ArgMax (a greedy discrete policy: --multipliers) or trailing Tanh (a squashed continuous
action in [-1, 1]: --range LO,HI maps it to a budget multiplier, as AdPilot's runtime does);
`random` writes fixed seeded weights (used by AdPilot's tests). Only numpy is needed to
write the format; torch, stable-baselines3 and onnx are imported only by the commands that
read their files.

The format (see README, "Frozen policies"): OUT_DIR/NAME@VERSION/manifest.json plus one
little-endian float32 file per weight matrix and bias vector; the manifest lists every
file's SHA-256; the policy's digest is the SHA-256 of manifest.json.
"""
import argparse, hashlib, json, os, sys

import numpy as np


def write_policy(out_dir, name, version, features, layers, multipliers, provenance, activation="relu",
                 scaler=None, action_range=None):
    """layers: list of (W [out, in], b [out]) numpy arrays; hidden layers use `activation`, the last is identity.
    scaler: (mean, std) per feature, applied as (x - mean) / std before the first layer.
    action_range: (lo, hi) for one continuous output squashed by tanh, instead of `multipliers`."""
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
    if action_range is not None:
        assert inputs == 1, f"a continuous action needs 1 output, the network has {inputs}"
        action = {"type": "continuous", "min": float(action_range[0]), "max": float(action_range[1]),
                  "meaning": "a budget multiplier: min + (tanh(output) + 1) / 2 * (max - min)"}
    else:
        assert inputs == len(multipliers), f"{inputs} outputs for {len(multipliers)} multipliers"
        action = {"type": "multipliers", "values": [float(m) for m in multipliers],
                  "meaning": "Q-values over budget multipliers of the current daily budget; the argmax is proposed"}
    mean, std = scaler if scaler is not None else ([0.0] * len(features), [1.0] * len(features))
    manifest = {
        "format": 1, "name": name, "version": version, "kind": "mlp" if len(layers) > 1 else "linear",
        "features": [{"name": f, "mean": float(m), "std": float(s)} for f, m, s in zip(features, mean, std)],
        "action": action,
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


def onnx_policy(path, n_features):
    """An ONNX MLP as (layers, activation, scaler, head): head is "argmax", "tanh" or None."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    for node in g.node:  # constants folded into nodes rather than initializers
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t).astype(np.float64)
    inputs = [i.name for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        sys.exit(f"onnx: {path}: expected one input (the observation), found {inputs}")
    current = inputs[0]
    mean, std = np.zeros(n_features), np.ones(n_features)
    layers, after, argmax, pending, ensemble = [], {}, False, None, None

    def const(name, node):
        if name not in consts:
            sys.exit(f"onnx: {path}: node {node.name or node.op_type}: {name} is not a constant")
        return consts[name]

    def other(node):
        return [n for n in node.input if n != current][0]

    for node in g.node:
        op = node.op_type
        if op == "Constant" or current not in node.input:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if op in ("Sub", "Div", "Mul") and not layers:
            if op != "Mul" and node.input[0] != current:
                sys.exit(f"onnx: {path}: {op} ({node.name}) takes the observation as its second operand "
                         "(constant - x or constant / x): not a scaler AdPilot can fold")
            c = np.broadcast_to(const(other(node), node).reshape(-1), (n_features,))
            if op == "Sub":
                mean = mean + c * std
            elif op == "Div":
                std = std * c
            else:
                std = std / c
        elif op == "Gemm":
            if attrs.get("transA", 0):
                sys.exit(f"onnx: {path}: Gemm with transA is not an MLP layer")
            w = const(node.input[1], node) * attrs.get("alpha", 1.0)
            w = w if attrs.get("transB", 0) else w.T
            b = const(node.input[2], node) * attrs.get("beta", 1.0) if len(node.input) > 2 else np.zeros(w.shape[0])
            layers.append((w, np.broadcast_to(b.reshape(-1), (w.shape[0],)).copy()))
        elif op == "MatMul":
            w = const(node.input[1], node).T
            layers.append((w, np.zeros(w.shape[0])))
            pending = len(layers) - 1
        elif op == "Add" and pending == len(layers) - 1:
            w, b = layers[-1]
            layers[-1] = (w, b + np.broadcast_to(const(other(node), node).reshape(-1), b.shape))
            pending = None
        elif op in ("Relu", "Tanh") and layers and len(layers) - 1 not in after:
            after[len(layers) - 1] = op.lower()
        elif op == "ArgMax":
            argmax = True
        elif op == "Concat" and len(node.input) == 1:
            ensemble = 1  # d3rlpy's ensemble of Q-functions, here of one: the mean below is the value itself
        elif op == "Concat":
            sys.exit(f"onnx: {path}: an ensemble of {len(node.input)} networks (d3rlpy n_critics > 1); "
                     "AdPilot runs one network: train with n_critics=1")
        elif op == "ReduceMean" and ensemble == 1:
            pass
        elif op not in ("Cast", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten"):
            sys.exit(f"onnx: {path}: unsupported node {op} ({node.name}): only Gemm/MatMul/Add/Relu/Tanh MLPs")
        current = node.output[0]
    if not layers:
        sys.exit(f"onnx: {path}: no Gemm or MatMul layer found")
    if current != g.output[0].name:
        sys.exit(f"onnx: {path}: the graph's output {g.output[0].name} is not the value followed from the input "
                 f"(it ends at {current}): a branch AdPilot does not run")
    hidden = {after.get(i) for i in range(len(layers) - 1)}
    if len(hidden) > 1 or None in hidden:
        sys.exit(f"onnx: {path}: every hidden layer needs the same activation, Relu or Tanh; found {hidden}")
    head = "argmax" if argmax else after.get(len(layers) - 1)  # None, "tanh" (squashed) or "relu" (refused)
    if head == "relu":
        sys.exit(f"onnx: {path}: a Relu on the output layer is not an MLP policy head AdPilot runs")
    return layers, (hidden.pop() if hidden else "relu"), (mean, std), head


def linear_layers_from_state_dict(state):
    keys = [k[: -len(".weight")] for k in state if k.endswith(".weight")]
    return [(state[k + ".weight"].detach().cpu().numpy(), state[k + ".bias"].detach().cpu().numpy()) for k in keys]


def sb3_policy(model_path):
    """(layers, activation, library) of a Stable-Baselines3 DQN or PPO MlpPolicy (discrete actions)."""
    import torch
    import stable_baselines3
    from stable_baselines3 import DQN, PPO
    try:
        model = DQN.load(model_path, device="cpu")
    except Exception:
        model = PPO.load(model_path, device="cpu")
    policy = model.policy
    activation = {torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh"}.get(policy.activation_fn)
    if activation is None:
        sys.exit(f"sb3: {model_path}: activation {policy.activation_fn.__name__} (AdPilot runs ReLU or Tanh)")
    if hasattr(policy, "q_net"):
        state = policy.q_net.q_net.state_dict()
    else:
        state = {**{f"a.{k}": v for k, v in policy.mlp_extractor.policy_net.state_dict().items()},
                 **{f"z.{k}": v for k, v in policy.action_net.state_dict().items()}}
    library = f"stable-baselines3 {stable_baselines3.__version__} ({type(model).__name__})"
    return linear_layers_from_state_dict(state), activation, library


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", choices=["sb3", "state-dict", "onnx", "random"])
    p.add_argument("paths", nargs="+", help="[MODEL] OUT_DIR")
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--multipliers", help="discrete actions: one budget multiplier per network output")
    p.add_argument("--range", help="LO,HI: one tanh-squashed output mapped to a multiplier in [LO, HI]")
    p.add_argument("--sizes", default="15,128,64,10")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    features = a.features.split(",")
    if (a.multipliers is None) == (a.range is None):
        sys.exit("give exactly one of --multipliers (discrete) and --range LO,HI (continuous)")
    multipliers = [float(m) for m in a.multipliers.split(",")] if a.multipliers else None
    action_range = [float(v) for v in a.range.split(",")] if a.range else None
    activation, scaler = "relu", None
    if a.source == "random":
        rng = np.random.default_rng(a.seed)
        sizes = [int(s) for s in a.sizes.split(",")]
        layers = [(rng.standard_normal((o, i)).astype(np.float32) / np.sqrt(i), rng.standard_normal(o).astype(np.float32) * 0.1)
                  for i, o in zip(sizes, sizes[1:])]
        provenance = {"algorithm": "none (fixed random weights)", "library": f"numpy {np.__version__}", "data": "none",
                      "seed": a.seed, "metrics": {}}
        out = a.paths[0]
    elif a.source == "onnx":
        import onnx
        out = a.paths[1]
        layers, activation, scaler, head = onnx_policy(a.paths[0], len(features))
        if head == "tanh" and action_range is None:
            sys.exit("onnx: the network ends in Tanh (a continuous action): give --range LO,HI")
        if head != "tanh" and action_range is not None:
            sys.exit("onnx: --range needs a network whose output is squashed by a final Tanh")
        provenance = {"algorithm": "onnx", "library": f"onnx {onnx.__version__}", "data": a.paths[0], "metrics": {}}
    else:
        import torch  # only for real models
        model_path, out = a.paths
        if a.source == "sb3":
            layers, activation, library = sb3_policy(model_path)
        else:
            state = torch.load(model_path, map_location="cpu")
            layers, library = linear_layers_from_state_dict(state), f"torch {torch.__version__}"
        provenance = {"algorithm": a.source, "library": library, "data": model_path, "metrics": {}}
    print(write_policy(out, a.name, a.version, features, layers, multipliers, provenance, activation=activation,
                       scaler=scaler, action_range=action_range))


if __name__ == "__main__":
    sys.exit(main())
