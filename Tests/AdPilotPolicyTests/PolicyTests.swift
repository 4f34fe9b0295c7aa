import Foundation
import Testing
@testable import AdPilotCore
@testable import AdPilotPolicy
import AdPilotSystem
import AdPilotTestSupport

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Runs the parity fixture: numpy writes a 15->128->64->10 policy and its own outputs.
func exportParity(into dir: String) throws {
    let r = try runProcess(
        "/usr/bin/env", ["python3", repoRoot + "/Tests/fixtures/policy_parity.py", dir], mergeStderr: true)
    guard r.status == 0 else {
        throw PolicyError(file: "policy_parity.py", field: nil, problem: "python3 with numpy is needed: \(r.out)")
    }
}

func floats(_ path: String) -> [Float] {
    let d = FileManager.default.contents(atPath: path)!
    return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

func context(budget: Micros = Micros(100_000_000)) -> PolicyContext {
    let obs = Observation(
        campaign: CampaignID("c"), currency: .usd, currentBudgetMicros: budget, spendTodayMicros: Micros(40_000_000),
        trailing: TrailingStats(
            spendMicros: Micros(300_000_000), conversions: 12, conversionValueMicros: Micros(900_000_000)),
        hoursWithoutConversion: 2, dataAgeSeconds: 900)
    let config = CampaignConfig(
        id: CampaignID("c"), currency: .usd, dailyTargetMicros: Micros(120_000_000), efficiencyTarget: .roas(2),
        guardrails: GuardrailConfig(
            bounds: BudgetBounds(minMicros: .zero, maxMicros: Micros(1_000_000_000)),
            maxStepFraction: 0.2, canaryMaxStepFraction: 0.1, maxStepFloorMicros: .zero,
            dailyCapMicros: Micros(2_000_000_000), noConversionWindowHours: 24,
            roasFloor: nil, roasFloorSpendMinMicros: .zero, cooldownSeconds: 0))
    let now = Instant(secondsSinceEpoch: 1_795_392_000 + 14 * 3600)
    let input = Pacer.Input(
        dailyTargetMicros: config.dailyTargetMicros, spendTodayMicros: obs.spendTodayMicros,
        currentBudgetMicros: budget, trailing: obs.trailing, efficiencyTarget: config.efficiencyTarget)
    let (pacer, _) = Pacer.step(.standard, state: PacerState(), input: input, at: now, utcOffsetSeconds: 0)
    return PolicyContext(observation: obs, pacer: pacer, local: LocalTime(now, utcOffsetSeconds: 0), campaign: config)
}

@Suite struct PolicyFormatTests {
    @Test func swiftInferenceMatchesNumpyOnAThousandInputs() throws {
        let t = TempDir()
        try exportParity(into: t.path)
        let policy = try FrozenPolicy.load(directory: t.path + "/parity@1")
        let runtime = PolicyRuntime(policy)
        let inputs = floats(t.path + "/inputs.f32"), expected = floats(t.path + "/outputs.f32")
        #expect(inputs.count == 15_000 && expected.count == 10_000)
        var worst: Float = 0
        for r in 0..<1_000 {
            let q = runtime.values(features: inputs[(r * 15)..<((r + 1) * 15)].map(Double.init))
            for k in 0..<10 { worst = max(worst, abs(q[k] - expected[r * 10 + k])) }
        }
        #expect(worst <= 1e-5, "largest difference from numpy: \(worst)")
    }

    @Test func digestIsTheManifestsSHA256AndPinsIt() throws {
        let t = TempDir()
        try exportParity(into: t.path)
        let dir = t.path + "/parity@1"
        let policy = try FrozenPolicy.load(directory: dir)
        #expect(policy.digest == Crypto.sha256(Array(FileManager.default.contents(atPath: dir + "/manifest.json")!)))
        #expect(policy.id.description == "parity@1" && policy.manifest.provenance.seed == 2026)
        _ = try FrozenPolicy.load(directory: dir, expectedDigest: policy.digest)
        #expect(throws: PolicyError.self) { try FrozenPolicy.load(directory: dir, expectedDigest: Crypto.sha256([1])) }
    }

    /// Each refusal names the file and the field.
    @Test func refusalsNameFileAndField() throws {
        let t = TempDir()
        try exportParity(into: t.path)
        let dir = t.path + "/parity@1"
        let manifestPath = dir + "/manifest.json"
        let original = try String(contentsOfFile: manifestPath, encoding: .utf8)
        let originalWeights = FileManager.default.contents(atPath: dir + "/layer1.w.f32")!
        func refusal(_ edit: () throws -> Void) throws -> PolicyError? {
            try original.write(toFile: manifestPath, atomically: true, encoding: .utf8)
            try originalWeights.write(to: URL(fileURLWithPath: dir + "/layer1.w.f32"))
            try edit()
            defer { try? original.write(toFile: manifestPath, atomically: true, encoding: .utf8) }
            do {
                _ = try FrozenPolicy.load(directory: dir)
                return nil
            } catch {
                return error
            }
        }
        func editManifest(_ f: (inout [String: Any]) -> Void) throws {
            var m = try JSONSerialization.jsonObject(with: Data(original.utf8)) as! [String: Any]
            f(&m)
            try JSONSerialization.data(withJSONObject: m, options: [.sortedKeys]).write(
                to: URL(fileURLWithPath: manifestPath))
        }
        func rewriteWeights(_ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/layer1.w.f32"))
            try editManifest { m in
                var files = m["files"] as! [String: String]
                files["layer1.w.f32"] = Crypto.sha256(bytes).hex
                m["files"] = files
            }
        }
        let weights = Array(originalWeights)

        let unknownFeature = try refusal {
            try editManifest { m in
                var f = m["features"] as! [[String: Any]]; f[3]["name"] = "moon_phase"; m["features"] = f
            }
        }
        #expect(
            unknownFeature?.description
                == "parity@1/manifest.json: features[3].name: unknown feature \"moon_phase\" "
                + "(see docs/policies.md, Features)")

        let kind = try refusal { try editManifest { $0["kind"] = "transformer" } }
        #expect(kind?.field == "kind" && kind?.problem.contains("unsupported kind") == true)

        let changed = try refusal {
            try Data(weights.reversed()).write(to: URL(fileURLWithPath: dir + "/layer1.w.f32"))
        }
        #expect(
            changed?.file == "parity@1/layer1.w.f32" && changed?.problem.contains("SHA-256 does not match") == true,
            "\(String(describing: changed))")

        let shape = try refusal { try rewriteWeights(Array(weights.dropLast(4))) }
        #expect(
            shape?.file == "parity@1/layer1.w.f32" && shape?.field == "layers[1].weights"
                && shape?.problem.contains("shape mismatch") == true)

        var nan = weights
        nan.replaceSubrange(40..<44, with: [0x00, 0x00, 0xc0, 0x7f])
        let nonFinite = try refusal { try rewriteWeights(nan) }
        #expect(nonFinite?.problem == "non-finite weight at index 10", "\(String(describing: nonFinite))")

        let missing = try refusal { try FileManager.default.removeItem(atPath: dir + "/layer2.b.f32") }
        #expect(
            missing?.file == "parity@1/layer2.b.f32" && missing?.problem == "missing file",
            "\(String(describing: missing))")
        try Data(floats(t.path + "/outputs.f32").prefix(10).withUnsafeBytes { Array($0) }).write(
            to: URL(fileURLWithPath: dir + "/layer2.b.f32"))

        let layerShape = try refusal {
            try editManifest { m in
                var l = m["layers"] as! [[String: Any]]; l[1]["inputs"] = 100; m["layers"] = l
            }
        }
        #expect(layerShape?.field == "layers[1].inputs" && layerShape?.problem.contains("shape mismatch") == true)
    }

    @Test func sameInputSameActionAndBatchesAgree() throws {
        let t = TempDir()
        try exportParity(into: t.path)
        let runtime = PolicyRuntime(try FrozenPolicy.load(directory: t.path + "/parity@1"))
        let c = context()
        let first = runtime.output(c)
        for _ in 0..<1_000 { #expect(runtime.output(c) == first) }
        var rng = SplitMix64(seed: 11)
        let rows = 64
        let batch = (0..<(rows * 15)).map { _ in rng.unit() * 4 - 2 }
        var out = Array(repeating: PolicyOutput.followPacer, count: rows)
        runtime.outputs(batch: batch, rows: rows, into: &out)
        for r in 0..<rows {
            #expect(out[r] == batch[(r * 15)..<((r + 1) * 15)].withUnsafeBufferPointer { runtime.output(features: $0) })
        }
    }

    /// Golden outputs of the shipped baselines.
    @Test func shippedRulePolicies() throws {
        let hold = PolicyRuntime(try FrozenPolicy.load(directory: repoRoot + "/Policies/hold@1"))
        let c = context()
        #expect(hold.output(c) == .multiplier(1))
        #expect(hold.propose(c) == .micros(100_000_000))
        let pace = PolicyRuntime(try FrozenPolicy.load(directory: repoRoot + "/Policies/pace@1"))
        #expect(pace.output(c) == .followPacer)
        #expect(pace.propose(c) == .micros(c.pacer.recommendedBudgetMicros.statistic))
    }

    @Test func everyFeatureIsFiniteEvenOnNonsense() {
        var c = context(budget: .zero)
        c.observation.trailing = TrailingStats(
            spendMicros: .zero, conversions: .nan, conversionValueMicros: Micros(.max))
        c.observation.dataAgeSeconds = .max
        for f in Feature.allCases { #expect(f.value(c).isFinite, "\(f)") }
    }
}

@Suite struct LinearContinuousTests {
    /// A one-layer linear policy with a tanh-squashed continuous output in 0.5...1.5, against
    /// the formula computed by hand.
    @Test func continuousOutputIsSquashedIntoItsRange() throws {
        let t = TempDir()
        let dir = t.path + "/lin@1"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func f32(_ xs: [Float]) -> [UInt8] {
            xs.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        }
        let w = f32([0.5, -0.25]), b = f32([0.1])
        try Data(w).write(to: URL(fileURLWithPath: dir + "/w.f32"))
        try Data(b).write(to: URL(fileURLWithPath: dir + "/b.f32"))
        let manifest = Manifest(
            format: 1, name: "lin", version: "1", kind: "linear",
            features: [
                Manifest.FeatureSpec(name: "trailing_roas", mean: 2, std: 4),
                Manifest.FeatureSpec(name: "budget_to_target", mean: 0, std: 1),
            ],
            action: Manifest.ActionSpec(
                type: "continuous", values: nil, min: 0.5, max: 1.5, rule: nil, meaning: "test"),
            layers: [
                Manifest.LayerSpec(weights: "w.f32", bias: "b.f32", inputs: 2, outputs: 1, activation: "identity")
            ],
            tabular: nil,
            provenance: Manifest.Provenance(algorithm: "hand", library: "test", data: "none", seed: nil, metrics: [:]),
            files: ["w.f32": Crypto.sha256(w).hex, "b.f32": Crypto.sha256(b).hex])
        try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
        let runtime = PolicyRuntime(try FrozenPolicy.load(directory: dir))
        for (roas, ratio) in [(6.0, 0.5), (0.0, 3.0), (2.0, 0.0), (40.0, -9.0)] {
            let z = 0.5 * (roas - 2) / 4 - 0.25 * ratio + 0.1
            let expected = 0.5 + (tanh(z) + 1) / 2 * 1.0
            guard case .multiplier(let m) = [roas, ratio].withUnsafeBufferPointer({ runtime.output(features: $0) })
            else {
                Issue.record("not a multiplier"); return
            }
            #expect(abs(m - expected) < 1e-6 && m > 0.5 && m < 1.5, "roas \(roas), ratio \(ratio): \(m) vs \(expected)")
        }
    }
}
