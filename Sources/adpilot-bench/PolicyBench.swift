// Frozen-policy inference: µs per decision, single and batched.
import AdPilotCore
import AdPilotPolicy
import AdPilotSystem
import Foundation

/// Writes a seeded random 15->128->64->10 MLP in the policy format and returns its directory.
func writeBenchMLP(in base: String) throws -> String {
    let dir = base + "/bench@1"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var rng = SplitMix64(seed: 15_128)
    let sizes = [15, 128, 64, 10]
    var files: [String: String] = [:]
    var layers: [Manifest.LayerSpec] = []
    for l in 0..<3 {
        for (kind, count) in [("w", sizes[l] * sizes[l + 1]), ("b", sizes[l + 1])] {
            var bytes: [UInt8] = []
            for _ in 0..<count {
                withUnsafeBytes(of: Float(rng.unit() * 2 - 1).bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
            let name = "layer\(l).\(kind).f32"
            try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
            files[name] = Crypto.sha256(bytes).hex
        }
        layers.append(
            Manifest.LayerSpec(
                weights: "layer\(l).w.f32", bias: "layer\(l).b.f32", inputs: sizes[l], outputs: sizes[l + 1],
                activation: l == 2 ? "identity" : "relu"))
    }
    let manifest = Manifest(
        format: 1, name: "bench", version: "1", kind: "mlp",
        features: Feature.allCases.prefix(15).map { Manifest.FeatureSpec(name: $0.rawValue, mean: 0, std: 1) },
        action: Manifest.ActionSpec(
            type: "multipliers", values: [0.7, 0.8, 0.9, 0.95, 1, 1, 1.05, 1.1, 1.2, 1.3],
            min: nil, max: nil, rule: nil, meaning: "benchmark"),
        layers: layers, tabular: nil,
        provenance: Manifest.Provenance(
            algorithm: "none", library: "adpilot-bench", data: "none", seed: 15_128, metrics: [:]),
        files: files)
    try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    return dir
}

func benchPolicies(policiesDir: String) {
    print("== frozen-policy inference")
    let tmp = NSTemporaryDirectory() + "/adpilot-bench-policy-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    var dirs: [String] = []
    do {
        dirs = [try writeBenchMLP(in: tmp)] + ["qlearn@1", "hold@1", "pace@1"].map { policiesDir + "/" + $0 }
    } catch {
        print("policy benchmark failed: \(error)")
        return
    }
    let clock = ContinuousClock()
    for dir in dirs {
        guard let policy = try? FrozenPolicy.load(directory: dir) else {
            print("\(dir): not loadable (run from the repository root)")
            continue
        }
        let runtime = PolicyRuntime(policy)
        let n = policy.features.count
        var rng = SplitMix64(seed: 3)
        let rows = 10_000
        let batch = (0..<(rows * n)).map { _ in rng.unit() * 4 - 2 }
        var out = Array(repeating: PolicyOutput.followPacer, count: rows)
        runtime.outputs(batch: batch, rows: rows, into: &out)  // warm up
        var sink = 0.0
        let single = clock.measure {
            batch.withUnsafeBufferPointer { all in
                for r in 0..<rows {
                    if case .multiplier(let m) = runtime.output(
                        features: UnsafeBufferPointer(rebasing: all[(r * n)..<((r + 1) * n)]))
                    {
                        sink += m
                    }
                }
            }
        }
        let batched = clock.measure { runtime.outputs(batch: batch, rows: rows, into: &out) }
        let name =
            policy.id.description
            + (policy.manifest.layers.map {
                " (" + ([$0[0].inputs] + $0.map(\.outputs)).map(String.init).joined(separator: "->") + " mlp)"
            } ?? " (\(policy.manifest.kind))")
        print(
            "\(name): \(format2(seconds(single) / Double(rows) * 1e6)) us single, "
                + "\(format2(seconds(batched) / Double(rows) * 1e6)) us per decision batched (\(rows) rows)"
        )
        if sink == -1 { print("") }
    }
}
