#if canImport(Glibc)
    import Glibc
#endif

/// How the writing policy explores (docs/evaluation.md): once an hour, at the first tick of
/// the hour, its proposal is multiplied by exp(scale * z), z a standard normal drawn from
/// the seed, the campaign and the tick's slot (so a replay draws the same). The guardrails
/// then judge the explored proposal like any other. Scale 0: no exploration.
package struct ExplorationConfig: Hashable, Sendable, Codable {
    /// Standard deviation of the log of the multiplier.
    package var scale: Double
    package var seed: UInt64

    package init(scale: Double, seed: UInt64) {
        self.scale = scale
        self.seed = seed
    }

    package static let off = ExplorationConfig(scale: 0, seed: 0)
}

/// One explored proposal, as journaled in its decision.
package struct Exploration: Hashable, Sendable, Codable {
    package var scale: Double
    /// The policy's own proposal, before exploration (micros, a statistic).
    package var unexploredMicros: Double
    /// ln(explored / unexplored): scale * z.
    package var shift: Double
    /// The density of `shift` under the behaviour policy, N(0, scale^2): the behaviour
    /// density of the action taken, in log-budget units.
    package var density: Double

    package init(scale: Double, unexploredMicros: Double, shift: Double, density: Double) {
        self.scale = scale
        self.unexploredMicros = unexploredMicros
        self.shift = shift
        self.density = density
    }

    /// Whether `slot` is the first tick of its hour on a `tickSeconds` grid.
    package static func isHourStart(_ slot: Instant, tickSeconds: Int64) -> Bool {
        slot.microsSinceEpoch.floorMod(Instant.secondsPerHour * Instant.microsPerSecond)
            < tickSeconds * Instant.microsPerSecond
    }

    /// The explored proposal and what was done, or the proposal unchanged (nil) when
    /// exploration is off, the proposal is not a positive finite budget, or `slot` is not
    /// the first tick of its hour.
    package static func explore(
        _ proposal: Proposal, _ config: ExplorationConfig, campaign: CampaignID, slot: Instant, tickSeconds: Int64
    ) -> (Proposal, Exploration?) {
        guard config.scale > 0, case .budget(let v) = proposal, v.value.isFinite, v.value > 0,
            isHourStart(slot, tickSeconds: tickSeconds)
        else { return (proposal, nil) }
        let z = standardNormal(seed: config.seed, campaign: campaign, slot: slot)
        let shift = config.scale * z
        let density = exp(-0.5 * z * z) / ((2 * Double.pi).squareRoot() * config.scale)
        return (
            .micros(v.value * exp(shift)),
            Exploration(scale: config.scale, unexploredMicros: v.value, shift: shift, density: density)
        )
    }

    /// A standard normal (Box-Muller) from SplitMix64 seeded by the seed, the campaign id
    /// (FNV-1a) and the slot: the same draw every time for the same decision.
    package static func standardNormal(seed: UInt64, campaign: CampaignID, slot: Instant) -> Double {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in campaign.rawValue.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        var rng = SplitMix64(seed: seed ^ h ^ UInt64(bitPattern: slot.microsSinceEpoch))
        _ = rng.next()
        let u = max(rng.unit(), 0x1.0p-53), v = rng.unit()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
