public import AdPilotCore
public import AdPilotJournal
import AdPilotPolicy
import AdPilotSystem
import Foundation

/// A value behind a lock, for state the tick thread and the control socket share.
public final class Guarded<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    public init(_ value: Value) { self.value = value }

    public func with<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    public var current: Value { with { $0 } }
}

/// The journal writer behind a lock: the tick thread and the control socket both append.
public final class JournalSink: @unchecked Sendable {
    private let writer: Guarded<JournalWriter>

    public init(_ writer: JournalWriter) { self.writer = Guarded(writer) }

    public func append(_ entries: [JournalEntry]) throws(JournalError) -> [RecordRef] {
        try writer.with { (w) throws(JournalError) -> [RecordRef] in try w.append(entries) }
    }

    public func append(kind: String, data: [UInt8]) throws(JournalError) -> RecordRef {
        try append([JournalEntry(kind: kind, data: data)])[0]
    }

    public var head: RecordRef { writer.with { $0.head } }
    public var isPoisoned: Bool { writer.with { $0.isPoisoned } }

    public func close() throws(JournalError) {
        try writer.with { (w) throws(JournalError) in try w.close() }
    }
}

/// Finds frozen policies by id in the configured directories (first match wins).
public enum PolicyStore {
    public static func find(_ id: PolicyID, in dirs: [String]) -> String? {
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
