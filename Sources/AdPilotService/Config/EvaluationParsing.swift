import AdPilotCore
import AdPilotPlatforms

extension ServiceConfig {
    /// `exploration`: absent or null, none (a configuration written before exploration
    /// existed does not start perturbing budgets on an upgrade); else `scale` (0...0.5, the
    /// standard deviation of the log multiplier, 0 for none) and `seed`.
    static func parseExploration(_ json: JSON?) throws(ConfigProblem) -> ExplorationConfig {
        guard let json else { return .off }
        var r = try ObjectReader(json, path: "exploration")
        let scale = try r.double("scale", in: 0...0.5)
        let seed = try r.int("seed", in: 0...Int64.max)
        try r.finish()
        return ExplorationConfig(scale: scale, seed: UInt64(seed))
    }
}
