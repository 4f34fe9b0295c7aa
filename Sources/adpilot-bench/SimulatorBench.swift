// The market simulator: campaign-hours per second.
import AdPilotCore
import AdPilotPlatforms

func benchSimulator() {
    print("== market simulator")
    let campaigns = 1_000, hours: Int64 = 8_760
    let start = Instant(secondsSinceEpoch: 1_795_392_000)
    let clock = ManualClock(start)
    let sim = MarketSimulator(config: SimulatorConfig(seed: 1, campaigns: campaigns, start: start), clock: clock)
    let t = ContinuousClock().measure { sim.advance(to: start.adding(seconds: hours * 3_600)) }
    let campaignHours = Double(campaigns) * Double(hours)
    print(
        "simulator: \(campaigns) campaigns x \(hours) hours = \(Int(campaignHours)) campaign-hours in "
            + "\(format2(seconds(t))) s (one core)"
    )
    print("simulator: \(format2(campaignHours / seconds(t) / 1e6)) million campaign-hours per second")
}
