// The off-policy estimators against the truth of a twin market (docs/evaluation.md):
// per seed, the candidate's estimated profit per campaign-hour from a logged world against
// what it earned writing in a twin world from the same seed.
import AdPilotCore
import AdPilotService
import Foundation

func benchEvaluation(base: String, policiesDir: String) {
    for law in ExplorationConfig.Distribution.allCases {
        benchEvaluation(base: base, policiesDir: policiesDir, law: law)
    }
}

func benchEvaluation(base: String, policiesDir: String, law: ExplorationConfig.Distribution) {
    var o = SimulationOptions()
    o.campaigns = 20
    o.days = 2
    o.warmupDays = 1
    o.policyDirs = [policiesDir]
    o.overlay = #"{"exploration": {"scale": 0.05, "seed": 1, "distribution": "\#(law.rawValue)"}}"#
    let seeds = UInt64(1)...10
    say("== off-policy evaluation against a twin market: candidate qlearn@1, writer pace@1 exploring at 0.05 "
        + "(\(law.rawValue)); \(o.campaigns) campaigns, \(o.days) days after \(o.warmupDays) warm-up, seeds \(seeds)")
    var results: [TwinValidation.Result] = []
    for seed in seeds {
        let dir = tempDirectory(base, "twin")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let r = try TwinValidation.run(
                o, writer: PolicyID("pace@1")!, candidate: PolicyID("qlearn@1")!, seed: seed, replicates: 200,
                scratch: dir)
            results.append(r)
            let cells = OffPolicy.Estimator.allCases.map { e in
                let c = r.report.comparison(e)!.candidate
                return String(format: "%@ %.2f (%.1f%%%@)", e.rawValue, c.estimate, r.relativeError(e) * 100,
                              r.covers(e) ? ", covered" : "")
            }
            say(String(format: "seed %d: %d periods, truth %.2f; ", seed, r.periods, r.truth)
                + cells.joined(separator: "; "))
        } catch {
            say("seed \(seed): \(error)")
        }
    }
    guard !results.isEmpty else { return }
    for e in OffPolicy.Estimator.allCases {
        let errors = results.map { $0.relativeError(e) }.sorted()
        let coverage = Double(results.filter { $0.covers(e) }.count) / Double(results.count)
        say(String(format: "%@: median relative error %.1f%%, 95%% interval coverage %.0f%% (%d seeds)",
                   e.rawValue, errors[errors.count / 2] * 100, coverage * 100, results.count))
    }
}
