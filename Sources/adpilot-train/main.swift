// adpilot-train: `make policies`. Trains qlearn@1 on the embedded simulator from a fixed
// seed (bit for bit reproducible), evaluates it against hold@1 on seeds it never saw, and
// writes Policies/qlearn@1.
import AdPilotCore
import AdPilotPolicy
import AdPilotTraining
import Foundation

if CommandLine.arguments.dropFirst().first == "--probe" {
    for m in Trainer.multipliers {
        let o = Trainer.probe(multiplier: m, seeds: Trainer.evaluationSeeds, campaigns: 10, days: 10)
        print("always x\(m): profit \(Int(o.profitMicros / 1e6)), spend \(Int(o.spendMicros / 1e6))")
    }
    exit(0)
}
let out = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Policies"
let config = Trainer.Config()
let (table, training) = Trainer.train(config)
let dir = NSTemporaryDirectory() + "/adpilot-train-\(getpid())"
defer { try? FileManager.default.removeItem(atPath: dir) }
let hold = PolicyRuntime(try FrozenPolicy.load(directory: out + "/hold@1"))
let baseline = Trainer.evaluate(hold, seeds: Trainer.evaluationSeeds, campaigns: config.campaigns, days: config.days)
// Evaluate the table as the daemon would load it: write, load, run.
try Trainer.writeArtifact(
    table: table, config: config, training: training, evaluation: baseline, baseline: baseline, into: dir)
let learned = Trainer.evaluate(
    PolicyRuntime(try FrozenPolicy.load(directory: dir + "/qlearn@1")), seeds: Trainer.evaluationSeeds,
    campaigns: config.campaigns, days: config.days)
try Trainer.writeArtifact(
    table: table, config: config, training: training, evaluation: learned, baseline: baseline, into: out)
let p = try FrozenPolicy.load(directory: out + "/qlearn@1")
print("wrote \(out)/qlearn@1 (digest \(p.digest.hex))")
print(
    "evaluation on unseen seeds: qlearn@1 profit \(Int(learned.profitMicros / 1e6)), hold@1 profit "
        + "\(Int(baseline.profitMicros / 1e6)), guardrail violations \(learned.violations.count)"
)
