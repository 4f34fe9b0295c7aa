import AdPilotControl
package import AdPilotCore
package import AdPilotPlatforms
package import AdPilotSystem
import AdPilotJournal

/// How the daemon reads time.
package enum ClockSetting: Equatable, Sendable {
    /// The wall clock (production).
    case system
    /// Simulated time running `speed` simulated seconds per real second, continuing across
    /// restarts (demos; the simulator only).
    case accelerated(speed: Double)

    /// Simulated seconds per real second (1 for the wall clock).
    package var speed: Double {
        if case .accelerated(let s) = self { return s }
        return 1
    }
}

/// One campaign's settings before its id and currency are known.
package struct CampaignTemplate: Equatable, Sendable {
    package var dailyTargetMicros: Micros
    package var efficiencyTarget: EfficiencyTarget
    package var guardrails: GuardrailConfig

    package func config(id: CampaignID, currency: Currency) -> CampaignConfig {
        CampaignConfig(
            id: id, currency: currency, dailyTargetMicros: dailyTargetMicros,
            efficiencyTarget: efficiencyTarget, guardrails: guardrails)
    }
}

/// The daemon's configuration (docs/configuration.md): parsed from JSON with every key checked, every
/// unknown key refused with its path, and every range validated.
package struct ServiceConfig: Sendable {
    package static let formatVersion: Int64 = 1
    package static let fileBytesMax = 16 << 20
    package static let campaignOverridesMax = 100_000

    package var tickSeconds: Int64
    package var clock: ClockSetting
    /// Group whose members may use the control socket; nil: the daemon's own group.
    package var operatorsGroup: String?
    package var policyDirs: [String]
    /// Slots used the first time the daemon starts on an empty journal.
    package var initialLive: PolicyID?
    package var initialCandidate: PolicyID?
    package var platform: PlatformSettings
    package var platformCurrency: Currency
    /// Where revenue comes from: nil, the ad platform's reported conversion value; else
    /// `.shopify`, orders attributed to campaigns (docs/platforms.md).
    package var revenue: PlatformSettings?
    package var journalSegmentBytesMax: Int64
    package var journalSealInterval: Int
    /// Credential holding the HMAC seal key; nil: hash chain only.
    package var journalKeyCredential: String?
    /// Prometheus textfile; nil: `<state>/adpilot.prom`.
    package var metricsPath: String?
    package var account: AccountLimits
    package var pacer: PacerConfig
    package var breaker: BreakerConfig
    package var anomaly: AnomalyConfig
    package var campaignDefaults: CampaignTemplate
    package var campaignOverrides: [CampaignID: CampaignTemplate]
    package var canary: CanaryScopeSetting
    package var gates: GateConfig
    /// How the writing policy explores (docs/evaluation.md); off unless configured.
    package var exploration: ExplorationConfig = .off
    /// The parsed document, re-encoded: journaled in `config` records.
    package var canonicalJSON: String
    /// SHA-256 of `canonicalJSON`: decisions reference their config by it.
    package var digest: SHA256Digest

    package var tick: TickSettings { TickSettings(account: account, pacer: pacer, breaker: breaker, anomaly: anomaly) }

    /// The settings for one campaign: its override if configured, the defaults otherwise.
    package func campaign(_ id: CampaignID, currency: Currency) -> CampaignConfig {
        (campaignOverrides[id] ?? campaignDefaults).config(id: id, currency: currency)
    }

    // MARK: Loading

    package static func parse(bytes: [UInt8]) throws(ConfigProblem) -> ServiceConfig {
        guard bytes.count <= fileBytesMax else {
            throw ConfigProblem(key: "", problem: "larger than \(fileBytesMax) bytes")
        }
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw ConfigProblem(key: "", problem: "\(error) (line \(line(of: error.offset, in: bytes)))")
        }
        return try parse(json)
    }

    package static func load(path: String, io: any FileIO = PosixFileIO()) throws(ConfigProblem) -> ServiceConfig {
        let bytes: [UInt8]
        do {
            bytes = try io.readFile(path, limit: fileBytesMax)
        } catch {
            throw ConfigProblem(key: "", problem: "cannot read: \(error)")
        }
        return try parse(bytes: bytes)
    }

    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        1 + bytes.prefix(offset).reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }
}
