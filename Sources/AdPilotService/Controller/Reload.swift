import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// SIGHUP: a new configuration, accepted or refused, journaled either way.
extension Controller {
    /// SIGHUP: a valid config replaces the running one from the next tick; an invalid one
    /// (or one changing what needs a restart) is refused and the old one kept. Journaled
    /// either way.
    package func reload(_ candidate: Result<ServiceConfig, ConfigProblem>, source: String, log: Log) -> String? {
        var refusal: String? = nil
        switch candidate {
        case .failure(let p):
            refusal = "\(source): \(p)"
        case .success(let c):
            if !c.restartRequired(from: config).isEmpty {
                refusal =
                    "\(source): platform, clock, operators_group and journal changes need a restart (systemctl restart "
                        + "adpilotd)"
            } else {
                do {
                    // Journaled first: decisions must never cite a digest the journal lacks.
                    _ = try journal.append(kind: RecordKind.config, data: ConfigRecord.accepted(c).bytes)
                } catch {
                    log.error(
                        "configuration reload refused: it cannot be journaled (\(error)); keeping "
                            + "\(config.digest.hex.prefix(12))",
                        [:])
                    return "\(source): cannot be journaled: \(error)"
                }
                config = c
                statusView.with {
                    $0.configDigest = c.digest.hex
                    $0.gateConfig = c.gates
                    $0.policyDirs = c.policyDirs
                }
                log.notice("configuration reloaded from \(source) (\(c.digest.hex.prefix(12)))", [:])
                return nil
            }
        }
        let message = refusal!
        _ = try? journal.append(kind: RecordKind.config, data: ConfigRecord.refused(message, keeping: config).bytes)
        log.error("configuration reload refused, keeping \(config.digest.hex.prefix(12)): \(message)", [:])
        return message
    }
}
