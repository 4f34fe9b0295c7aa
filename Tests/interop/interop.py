#!/usr/bin/env python3
"""Models from elsewhere, proven (make test-interop; docs/policies.md#models-from-elsewhere-proven).

Trains tiny policies with the libraries ML engineers use, exports each with
Policies/export_policy.py, and checks that `adpilotctl policy run` chooses what the library
itself chooses on 1,000 seeded observations:

  sb3-dqn     Stable-Baselines3 DQN (ReLU MLP)           vs model.predict(deterministic=True)
  sb3-ppo     Stable-Baselines3 PPO (Tanh MLP, discrete) vs model.predict(deterministic=True)
  state-dict  the DQN's q_net saved with torch.save(state_dict) vs model.predict(deterministic=True)
  onnx        the DQN's q_net behind an observation scaler and ArgMax, torch.onnx.export
              (Gemm/Relu graph)                          vs onnxruntime
  d3rlpy-dqn  d3rlpy DiscreteCQL, save_policy("policy.onnx") vs algo.predict
  d3rlpy-cql  d3rlpy CQL (continuous, tanh-squashed action), save_policy("policy.onnx")
                                                         vs algo.predict mapped to [LO, HI]

Usage: interop.py ADPILOTCTL WORKDIR [SEED]. Exit 0 when every check agrees; prints the seed.
"""
import os, subprocess, sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPORT = os.path.join(ROOT, "Policies", "export_policy.py")
FEATURES = ["trailing_roas", "budget_to_target", "hour_sin", "hour_cos"]
MULTIPLIERS = [0.8, 0.9, 1.0, 1.1, 1.25]
RANGE = (0.8, 1.25)
N = 1000


def observations(seed):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 6, N), rng.uniform(0.2, 3, N), rng.uniform(-1, 1, N),
                            rng.uniform(-1, 1, N)]).astype(np.float32)


def export(args, workdir, name):
    out = os.path.join(workdir, "policies")
    source, model, *options = args
    cmd = [sys.executable, EXPORT, source, model, out, *options, "--name", name, "--version", "1",
           "--features", ",".join(FEATURES)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def adpilot(ctl, policy_dir, name, obs):
    rows = "\n".join(" ".join(repr(float(v)) for v in row) for row in obs) + "\n"
    r = subprocess.run([ctl, "policy", "run", f"{name}@1", "--policy-dir", policy_dir],
                       input=rows, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"adpilotctl policy run {name}@1 failed: {r.stderr}")
    return [line.split() for line in r.stdout.splitlines()]


def compare(label, expected, got, seed):
    bad = [i for i, (e, g) in enumerate(zip(expected, got)) if e != g]
    if len(got) != len(expected) or bad:
        i = bad[0] if bad else len(got)
        print(f"FAIL {label}: {len(bad)} of {len(expected)} differ (first row {i}: library {expected[i]!r}, "
              f"AdPilot {got[i] if i < len(got) else None!r}); seed {seed}")
        return False
    print(f"ok   {label}: {len(expected)} of {len(expected)} agree")
    return True


class Env:
    """A tiny environment with AdPilot's four features and five budget multipliers."""

    def __init__(self, gym, seed):
        self.observation_space = gym.spaces.Box(-10, 10, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(len(MULTIPLIERS))
        self.rng = np.random.default_rng(seed)

    def obs(self):
        return np.array([self.rng.uniform(0, 6), self.rng.uniform(0.2, 3), self.rng.uniform(-1, 1),
                         self.rng.uniform(-1, 1)], dtype=np.float32)


def make_env(seed):
    import gymnasium as gym

    class Budget(gym.Env, Env):
        def __init__(self):
            Env.__init__(self, gym, seed)
            self.t, self.o = 0, None

        def reset(self, seed=None, options=None):
            self.t, self.o = 0, self.obs()
            return self.o, {}

        def step(self, action):
            # Reward raising the budget when ROAS is high and lowering it when low.
            reward = float((self.o[0] - 2.5) * (MULTIPLIERS[action] - 1.0))
            self.t += 1
            self.o = self.obs()
            return self.o, reward, self.t >= 32, False, {}

    return Budget()


def sb3(ctl, workdir, seed, obs):
    from stable_baselines3 import DQN, PPO
    ok = True
    for label, algo, kwargs in (("sb3-dqn", DQN, {"learning_starts": 100}), ("sb3-ppo", PPO, {"n_steps": 256})):
        model = algo("MlpPolicy", make_env(seed), seed=seed, device="cpu", **kwargs)
        model.learn(total_timesteps=1024)
        path = os.path.join(workdir, f"{label}.zip")
        model.save(path)
        out = export(["sb3", path, "--multipliers", ",".join(map(str, MULTIPLIERS))], workdir, label)
        expected = [str(int(a)) for a in model.predict(obs, deterministic=True)[0]]
        ok &= compare(label, expected, [row[0] for row in adpilot(ctl, out, label, obs)], seed)
        if label == "sb3-dqn":
            ok &= onnx_from_torch(ctl, workdir, seed, obs, model.policy.q_net.q_net)
            # The same network as a plain PyTorch state_dict of its nn.Linear layers.
            import torch
            torch.save(model.policy.q_net.q_net.state_dict(), os.path.join(workdir, "state-dict.pt"))
            out = export(["state-dict", os.path.join(workdir, "state-dict.pt"), "--multipliers",
                          ",".join(map(str, MULTIPLIERS))], workdir, "state-dict")
            ok &= compare("state-dict", expected, [row[0] for row in adpilot(ctl, out, "state-dict", obs)], seed)
    return ok


def onnx_from_torch(ctl, workdir, seed, obs, q_net):
    """The DQN's network as an ONNX file a d3rlpy-style export would write: scaler, MLP, ArgMax."""
    import onnxruntime, torch
    mean = torch.tensor([3.0, 1.5, 0.0, 0.0]); std = torch.tensor([1.7, 0.8, 0.6, 0.6])

    class Greedy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q = q_net

        def forward(self, x):
            return torch.argmax(self.q((x - mean) / std), dim=1)

    path = os.path.join(workdir, "onnx.onnx")
    torch.onnx.export(Greedy().eval(), torch.zeros(1, 4), path, input_names=["obs"], output_names=["action"],
                      dynamic_axes={"obs": {0: "batch"}}, dynamo=False)
    out = export(["onnx", path, "--multipliers", ",".join(map(str, MULTIPLIERS))], workdir, "onnx")
    session = onnxruntime.InferenceSession(path)
    expected = [str(int(a)) for a in session.run(None, {"obs": obs})[0]]
    return compare("onnx", expected, [row[0] for row in adpilot(ctl, out, "onnx", obs)], seed)


def d3rlpy_checks(ctl, workdir, seed, obs):
    try:
        import d3rlpy
    except ImportError:
        print("skip d3rlpy: not installed")
        return True
    import torch
    # d3rlpy 2.8's save_policy passes a traced ScriptFunction to torch.onnx.export, which
    # torch >= 2.9 sends to the dynamo exporter by default, and that refuses it: ask for the
    # TorchScript exporter, as d3rlpy did under the torch it was released with.
    export_onnx = torch.onnx.export
    torch.onnx.export = lambda *args, **kwargs: export_onnx(*args, **{"dynamo": False, **kwargs})
    rng = np.random.default_rng(seed)
    n = 2000
    x = observations(seed + 1)[rng.integers(0, N, n)]
    terminals = np.zeros(n); terminals[31::32] = 1
    ok = True
    d3rlpy.seed(seed)
    scaler = d3rlpy.preprocessing.StandardObservationScaler()
    acts = rng.integers(0, len(MULTIPLIERS), n)
    rewards = (x[:, 0] - 2.5) * (np.array(MULTIPLIERS)[acts] - 1.0)
    data = d3rlpy.dataset.MDPDataset(x, acts, rewards, terminals, action_space=d3rlpy.ActionSpace.DISCRETE)
    algo = d3rlpy.algos.DiscreteCQLConfig(observation_scaler=scaler).create(device="cpu")
    algo.fit(data, n_steps=300, n_steps_per_epoch=300, show_progress=False, save_interval=10**9,
             logger_adapter=d3rlpy.logging.NoopAdapterFactory())
    path = os.path.join(workdir, "d3rlpy-dqn.onnx")
    algo.save_policy(path)
    out = export(["onnx", path, "--multipliers", ",".join(map(str, MULTIPLIERS))], workdir, "d3rlpy-dqn")
    expected = [str(int(a)) for a in algo.predict(obs)]
    ok &= compare("d3rlpy-dqn", expected, [row[0] for row in adpilot(ctl, out, "d3rlpy-dqn", obs)], seed)

    cont = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    data = d3rlpy.dataset.MDPDataset(x, cont, (x[:, 0] - 2.5) * cont[:, 0], terminals,
                                     action_space=d3rlpy.ActionSpace.CONTINUOUS)
    algo = d3rlpy.algos.CQLConfig(observation_scaler=d3rlpy.preprocessing.StandardObservationScaler()).create(
        device="cpu")
    algo.fit(data, n_steps=200, n_steps_per_epoch=200, show_progress=False, save_interval=10**9,
             logger_adapter=d3rlpy.logging.NoopAdapterFactory())
    path = os.path.join(workdir, "d3rlpy-cql.onnx")
    algo.save_policy(path)
    out = export(["onnx", path, "--range", f"{RANGE[0]},{RANGE[1]}"], workdir, "d3rlpy-cql")
    lo, hi = RANGE
    expected = [lo + (float(a[0]) + 1) / 2 * (hi - lo) for a in algo.predict(obs)]
    got = [float(row[1]) for row in adpilot(ctl, out, "d3rlpy-cql", obs)]
    worst = max(abs(e - g) for e, g in zip(expected, got))
    ok &= compare("d3rlpy-cql (multiplier within 1e-5)", [True] * N, [abs(e - g) <= 1e-5 for e, g in zip(expected, got)],
                  seed)
    print(f"     d3rlpy-cql: largest multiplier difference {worst:.2e}")
    return ok


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ctl, workdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)  # d3rlpy and SB3 write logs beside them
    import torch
    torch.manual_seed(seed)
    print(f"interop: seed {seed}, {N} observations, torch {torch.__version__}")
    obs = observations(seed)
    ok = sb3(ctl, workdir, seed, obs) & d3rlpy_checks(ctl, workdir, seed, obs)
    print("interop: all agree" if ok else f"interop: FAILED (seed {seed})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
