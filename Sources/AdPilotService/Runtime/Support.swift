package import AdPilotCore
package import AdPilotJournal
import AdPilotPolicy
import AdPilotSystem
import Foundation

/// A value behind a lock, for state the tick thread and the control socket share.
package final class Guarded<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    package init(_ value: Value) { self.value = value }

    package func with<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    package var current: Value { with { $0 } }
}

/// The journal writer behind a lock: the tick thread and the control socket both append.
package final class JournalSink: @unchecked Sendable {
    private let writer: Guarded<JournalWriter>

    package init(_ writer: JournalWriter) { self.writer = Guarded(writer) }

    package func append(_ entries: [JournalEntry]) throws(JournalError) -> [RecordRef] {
        try writer.with { (w) throws(JournalError) -> [RecordRef] in try w.append(entries) }
    }

    package func append(kind: String, data: [UInt8]) throws(JournalError) -> RecordRef {
        try append([JournalEntry(kind: kind, data: data)])[0]
    }

    package var head: RecordRef { writer.with { $0.head } }
    package var isPoisoned: Bool { writer.with { $0.isPoisoned } }

    package func close() throws(JournalError) {
        try writer.with { (w) throws(JournalError) in try w.close() }
    }
}

/// Finds frozen policies by id in the configured directories (first match wins).
package enum PolicyStore {
    package static func find(_ id: PolicyID, in dirs: [String]) -> String? {
        for dir in dirs {
            let path = dir + "/" + id.description
            if PosixFileIO().exists(path + "/manifest.json") { return path }
        }
        return nil
    }
}

extension Guarded where Value == ControlState {
    var mode: Mode { with { $0.mode } }
}
