import AdPilotSystem

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
