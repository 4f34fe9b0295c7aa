import AdPilotControl
import AdPilotJournal
import AdPilotSystem

/// The daemon's log: journald with structured fields (ADPILOT_SEQ, ADPILOT_CAMPAIGN,
/// ADPILOT_MODE) under systemd, `adpilotd: LEVEL: message` lines on stderr otherwise.
package struct Log: Sendable {
    package let identifier: String
    package let toJournald: Bool
    /// Says nothing at all (`adpilotctl simulate` runs whole controllers in-process).
    package let silent: Bool

    package init(identifier: String = "adpilotd", toJournald: Bool = JournaldLog.connected, silent: Bool = false) {
        self.identifier = identifier
        self.toJournald = toJournald
        self.silent = silent
    }

    package func critical(_ m: String, _ f: [String: String] = [:]) { emit(m, .critical, f) }
    package func error(_ m: String, _ f: [String: String] = [:]) { emit(m, .error, f) }
    package func warning(_ m: String, _ f: [String: String] = [:]) { emit(m, .warning, f) }
    package func notice(_ m: String, _ f: [String: String] = [:]) { emit(m, .notice, f) }
    package func info(_ m: String, _ f: [String: String] = [:]) { emit(m, .info, f) }

    private func emit(_ message: String, _ priority: JournaldLog.Priority, _ fields: [String: String]) {
        if silent { return }
        if toJournald && JournaldLog.send(message, priority: priority, identifier: identifier, fields: fields) {
            return
        }
        let level: String
        switch priority {
        case .critical: level = "critical"
        case .error: level = "error"
        case .warning: level = "warning"
        case .notice: level = "notice"
        case .info, .debug: level = "info"
        }
        let extra = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        StandardError.write("\(identifier): \(level): \(message)\(extra.isEmpty ? "" : " [\(extra)]")\n")
    }
}
