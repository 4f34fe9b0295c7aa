import Foundation
import Testing
@testable import AdPilotCore

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The off-policy estimators against an independent numpy implementation
/// (`Tests/fixtures/ope_reference.py`: least squares by `lstsq`, its own SplitMix64 and
/// `np.quantile`) on seeded datasets, to 1e-9.
@Suite struct OffPolicyTests {
    /// Ten campaigns, five days, six periods a day (hours 0, 4, ..., 20, each with its own
    /// level in the reward, a daily cycle); the behaviour policy explores around its own
    /// action with a normal of scale 0.1 in log budget; the candidate asks 0.05 more.
    static func dataset(seed: UInt64) -> (periods: [OffPolicy.Period], reference: [Double]) {
        var rng = SplitMix64(seed: seed)
        func normal() -> Double {
            let u = max(rng.unit(), 1e-300), v = rng.unit()
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        let sigma = 0.1
        var periods: [OffPolicy.Period] = [], reference: [Double] = []
        for c in 0..<10 {
            let level = 50 + 10 * Double(c), slope = 20 - 3 * Double(c)
            for day in 0..<5 {
                for k in 0..<6 {
                    let own = 0.2 * normal()
                    let z = normal()
                    let action = own + sigma * z
                    let density = exp(-0.5 * z * z) / ((2 * Double.pi).squareRoot() * sigma)
                    let cycle = 10 * sin(Double(k) * Double.pi / 3)
                    periods.append(
                        OffPolicy.Period(
                            campaign: c, hourOfDay: 4 * k, cluster: c * 100 + day, action: action,
                            behaviourAction: own, behaviourDensity: density, target: own + 0.05,
                            reward: level + cycle + slope * action + 5 * normal()))
                    reference.append(own)
                }
            }
        }
        return (periods, reference)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func estimatorsMatchTheNumpyReference(seed: UInt64) throws {
        let (periods, reference) = Self.dataset(seed: seed)
        let report = OffPolicy.evaluate(
            periods, reference: reference, bandwidth: 0.1, ridge: 0.5, weightMax: 1.5, replicates: 200, seed: seed)
        let dir = NSTemporaryDirectory() + "/adpilot-ope-\(getpid())-\(seed)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rows = zip(periods, reference).map { p, r -> [String: Any] in
            ["campaign": p.campaign, "hour_of_day": p.hourOfDay, "cluster": p.cluster, "action": p.action,
             "behaviour_action": p.behaviourAction, "behaviour_density": p.behaviourDensity, "target": p.target,
             "reference": r, "reward": p.reward]
        }
        let input: [String: Any] = [
            "bandwidth": 0.1, "ridge": 0.5, "weight_max": 1.5, "replicates": 200, "seed": seed, "periods": rows,
        ]
        try JSONSerialization.data(withJSONObject: input).write(to: URL(fileURLWithPath: dir + "/in.json"))
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", root + "/Tests/fixtures/ope_reference.py", dir + "/in.json", dir + "/out.json"]
        try python.run()
        python.waitUntilExit()
        try #require(python.terminationStatus == 0, "python3 with numpy is needed (make test-deps)")
        let out = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out.json")))
                as? [String: Any])
        let point = out["point"] as! [String: Any], intervals = out["intervals"] as! [String: [String: [Double]]]
        func close(_ a: Double, _ b: Double, _ what: String) {
            #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "seed \(seed) \(what): swift \(a), numpy \(b)")
        }
        for c in report.comparisons {
            let e = c.estimator.rawValue
            close(c.candidate.estimate, (point["candidate"] as! [String: Double])[e]!, "\(e) candidate")
            close(c.reference.estimate, (point["reference"] as! [String: Double])[e]!, "\(e) reference")
            for (part, interval) in [("candidate", c.candidate), ("reference", c.reference),
                                     ("difference", c.difference)] {
                close(interval.low, intervals[e]![part]![0], "\(e) \(part) low")
                close(interval.high, intervals[e]![part]![1], "\(e) \(part) high")
            }
        }
        close(report.effectiveSampleSize, point["ess"] as! Double, "ess")
        close(report.referenceEffectiveSampleSize, point["reference_ess"] as! Double, "reference ess")
        close(report.support, point["support"] as! Double, "support")
        // Not vacuous: the candidate asks more of campaigns that mostly gain from it.
        #expect(report.comparison(.dr)!.difference.estimate > 0)
    }
}
