#if canImport(Glibc)
import Glibc
#endif
package import AdPilotCore
package import AdPilotSystem

package struct JournalOptions: Sendable {
    package static let segmentBytesDefault: Int64 = 64 << 20
    package static let sealIntervalDefault = 1_000
    package static let keyBytesMin = 32

    /// Rotate to a new segment before one would exceed this.
    package var segmentBytesMax: Int64 = JournalOptions.segmentBytesDefault
    /// HMAC key for seals (the `journal-key` credential, at least 32 bytes). Never written.
    package var sealKey: [UInt8]? = nil
    /// A seal right after the first record, after every this many records, before each
    /// rotation, and at close.
    package var sealInterval: Int = JournalOptions.sealIntervalDefault
    /// Written into the lock file so a second writer's error can name the holder.
    package var holder: String = "pid \(getpid())"
    package var io: any FileIO = PosixFileIO()
    package var clock: any TimeSource
    /// Called with each seal once it is durable (the daemon logs it to journald as an
    /// anchor outside the journal's files).
    package var onSeal: (@Sendable (RecordRef) -> Void)? = nil

    package init(clock: any TimeSource) { self.clock = clock }
}

/// A record's identity: its seq and hash.
package struct RecordRef: Hashable, Sendable {
    package let seq: UInt64
    package let hash: SHA256Digest

    package init(seq: UInt64, hash: SHA256Digest) {
        self.seq = seq
        self.hash = hash
    }
}

/// One record to append.
package struct JournalEntry: Sendable {
    package let kind: String
    /// A one-line JSON object (`RecordFormat.isEmbeddable`).
    package let data: [UInt8]

    package init(kind: String, data: [UInt8]) {
        self.kind = kind
        self.data = data
    }
}

/// What `open` found torn at the tail and moved aside.
package struct TornTail: Sendable, Equatable {
    package let segment: String
    package let offset: Int64
    package let bytes: Int
    package let movedTo: String
    package let problem: String
}

/// The single writer of a journal directory.
///
/// - `append` returns only after the record is written and `fdatasync`ed; a batch is
///   written with one write and one sync (group commit).
/// - One writer per directory, enforced with `flock` on `<dir>/.lock`.
/// - After any failed write or sync the writer is poisoned: it refuses everything until
///   reopened, because after a failed fsync the kernel may have dropped the dirty pages and
///   a retry that "succeeds" proves nothing. Reopening re-checks the tail.
/// - Opening recovers a torn tail (moved to a side file, segment truncated, a `recovered`
///   record appended) and refuses, naming seq, segment and offset, any damage before it.
package final class JournalWriter {
    package let directory: String
    package private(set) var head: RecordRef
    /// What opening moved aside, if anything (already journaled as `recovered`).
    package private(set) var tornTail: TornTail?

    private let options: JournalOptions
    private var io: any FileIO { options.io }
    private var lockFD: FileDescriptor?
    /// The directory as opened: a directory removed or swapped under the writer is noticed
    /// before the next write.
    private var directoryIdentity: FileIdentity?
    private var segment: OpenSegment
    private var poison: String?
    private var unsealed: Int
    /// Seals written but not yet durable (reported through `onSeal` once they are).
    private var sealsPending: [RecordRef] = []
    private let sha = Crypto.SHA256Context()

    struct OpenSegment {
        let name: SegmentName
        let path: String
        let fd: FileDescriptor
        var size: Int64
    }

    private init(
        directory: String, options: JournalOptions, lockFD: FileDescriptor, segment: OpenSegment,
        head: RecordRef, unsealed: Int
    ) {
        self.directory = directory
        self.options = options
        self.lockFD = lockFD
        self.segment = segment
        self.head = head
        self.unsealed = unsealed
    }

    deinit {
        io.close(segment.fd)
        if let lockFD { io.close(lockFD) }
    }

    package static func open(directory: String, options: JournalOptions) throws(JournalError) -> JournalWriter {
        if let key = options.sealKey, key.count < JournalOptions.keyBytesMin {
            throw .invalidKey(
                "the journal key has \(key.count) bytes; at least \(JournalOptions.keyBytesMin) are required")
        }
        precondition(options.sealInterval >= 1 && options.segmentBytesMax >= Int64(RecordFormat.lineBytesMax))
        let io = options.io
        let lockFD = try acquireLock(directory, options)
        let opened: (OpenSegment, RecordRef, Int, TornTail?)
        do {
            opened = try openTail(directory, io)
        } catch {
            io.close(lockFD)
            throw error
        }
        // From here the writer owns the lock and the segment: its deinit closes them.
        let (segment, head, unsealed, torn) = opened
        let writer = JournalWriter(
            directory: directory, options: options, lockFD: lockFD, segment: segment,
            head: head, unsealed: unsealed)
        do {
            writer.directoryIdentity = try io.identity(at: directory)
        } catch {
            throw JournalError.from(error)
        }
        do {
            if let torn {
                writer.tornTail = torn
                _ = try writer.append(
                    kind: "recovered",
                    data: Array(
                        (#"{"bytes":\#(torn.bytes),"moved_to":"\#(torn.movedTo)","offset":\#(torn.offset),"#
                            + #""problem":"\#(torn.problem)","segment":"\#(torn.segment)"}"#).utf8))
            }
            // A writer's first act on a keyed journal is a seal: whatever the last writer
            // left unsealed is covered, and this writer's interval (which the config may
            // have changed) is in the journal before the records it governs.
            if options.sealKey != nil && writer.head.seq > 0 { _ = try writer.seal(evenIfNothingNew: true) }
            return writer
        }
    }

    /// Appends one record durably.
    package func append(kind: String, data: [UInt8]) throws(JournalError) -> RecordRef {
        try append([JournalEntry(kind: kind, data: data)])[0]
    }

    /// Appends a batch durably: one write and one fdatasync per segment touched (group
    /// commit). Returns the entries' refs in order. Seals are added as the interval requires.
    package func append(_ entries: [JournalEntry]) throws(JournalError) -> [RecordRef] {
        if let poison { throw .poisoned(cause: poison) }
        let now = Array(options.clock.now().rfc3339.utf8)
        var refs: [RecordRef] = []
        refs.reserveCapacity(entries.count)
        var pending: [UInt8] = []
        var pendingHead = head
        var pendingUnsealed = unsealed

        func encode(_ kind: String, _ data: [UInt8]) -> RecordRef {
            let seq = pendingHead.seq + 1
            let hash = RecordFormat.encode(
                seq: seq, timeText: now, kind: kind, prev: pendingHead.hash, data: data, into: &pending, sha: sha)
            pendingHead = RecordRef(seq: seq, hash: hash)
            return pendingHead
        }
        func addSeal(_ key: [UInt8]) {
            let seq = pendingHead.seq + 1
            sealsPending.append(
                encode(
                    "seal",
                    RecordFormat.sealData(
                        sealSeq: seq, sealedHash: pendingHead.hash, interval: options.sealInterval, key: key)))
            pendingUnsealed = 0
        }

        // Validate everything before any I/O: a batch is refused whole, never half-written.
        for entry in entries {
            guard RecordFormat.isValidKind(entry.kind), RecordFormat.isEmbeddable(entry.data) else {
                throw .tooLarge(
                    "record of kind \(entry.kind.prefix(40)) is not a one-line JSON object under "
                        + "\(RecordFormat.lineBytesMax - 512) bytes"
                )
            }
        }
        for entry in entries {
            // Rotate first if this record would not fit (a seal closes a keyed segment).
            let lineEstimate = Int64(entry.data.count + 300)
            if segment.size + Int64(pending.count) > 0,
                segment.size + Int64(pending.count) + lineEstimate + 400 > options.segmentBytesMax
            {
                if let key = options.sealKey, pendingUnsealed > 0 { addSeal(key) }
                try flush(&pending, head: pendingHead, unsealed: pendingUnsealed)
                try rotate()
            }
            refs.append(encode(entry.kind, entry.data))
            pendingUnsealed += 1
            // The first record is sealed at once: the seal policy (its interval) is then
            // in the journal, and a keyed journal cannot lose every seal unnoticed.
            if let key = options.sealKey, pendingUnsealed >= options.sealInterval || pendingHead.seq == 1 {
                addSeal(key)
            }
        }
        try flush(&pending, head: pendingHead, unsealed: pendingUnsealed)
        return refs
    }

    /// Appends a seal now (no-op without a key, or with nothing to seal unless
    /// `evenIfNothingNew`: a seal may vouch for the seal before it).
    @discardableResult
    package func seal(evenIfNothingNew: Bool = false) throws(JournalError) -> RecordRef? {
        if let poison { throw .poisoned(cause: poison) }
        guard let key = options.sealKey, unsealed > 0 || (evenIfNothingNew && head.seq > 0) else { return nil }
        var pending: [UInt8] = []
        let seq = head.seq + 1
        let hash = RecordFormat.encode(
            seq: seq, time: options.clock.now(), kind: "seal",
            prev: head.hash,
            data: RecordFormat.sealData(
                sealSeq: seq, sealedHash: head.hash,
                interval: options.sealInterval, key: key),
            into: &pending, sha: sha)
        let ref = RecordRef(seq: seq, hash: hash)
        sealsPending.append(ref)
        try flush(&pending, head: ref, unsealed: 0)
        return ref
    }

    /// Seals (with a key) and releases the lock. The writer is unusable afterwards.
    package func close() throws(JournalError) {
        defer {
            if let fd = lockFD { io.close(fd) }
            lockFD = nil
            poison = poison ?? "closed"
        }
        if poison == nil { try seal() }
    }

    package var isPoisoned: Bool { poison != nil }

    // MARK: Internals

    private func flush(
        _ pending: inout [UInt8], head newHead: RecordRef, unsealed newUnsealed: Int
    ) throws(JournalError) {
        guard !pending.isEmpty else { return }
        defer { sealsPending.removeAll() }
        try checkInPlace()
        do {
            try pending.withUnsafeBytes { (b: UnsafeRawBufferPointer) throws in
                try io.writeAll(segment.fd, b, path: segment.path)
            }
            try io.fdatasync(segment.fd, path: segment.path)
        } catch {
            let e = JournalError.from(any: error)
            poison = e.description
            // After a failed write or fsync the bytes may sit in the page cache marked clean:
            // a reopen would read them back and chain records the caller was told failed.
            // Cut the file back to the last durable record now (best effort; if this fails
            // too, the reopen's tail check still stands between them and the chain).
            if (try? io.ftruncate(segment.fd, length: segment.size, path: segment.path)) != nil {
                _ = try? io.fsync(segment.fd, path: segment.path)
            }
            throw e
        }
        segment.size += Int64(pending.count)
        head = newHead
        unsealed = newUnsealed
        pending.removeAll(keepingCapacity: true)
        if let onSeal = options.onSeal { sealsPending.forEach(onSeal) }
    }

    /// The directory and the current segment are still the files this writer opened: a
    /// record appended to a removed or replaced file would be acknowledged and lost.
    private func checkInPlace() throws(JournalError) {
        var problem: String? = nil
        do {
            let open = try io.identity(of: segment.fd, path: segment.path)
            if open.links == 0 {
                problem = "the current segment \(segment.path) was removed"
            } else if try !io.identity(at: segment.path).isSameFile(as: open) {
                problem = "\(segment.path) was replaced by another file"
            } else if let opened = directoryIdentity, try !io.identity(at: directory).isSameFile(as: opened) {
                problem = "the journal directory \(directory) was replaced by another"
            }
        } catch {
            problem = "the journal directory or its current segment is gone (\(error))"
        }
        guard let problem else { return }
        poison = problem
        throw .displaced(problem)
    }

    private func rotate() throws(JournalError) {
        do {
            let next = try Self.createSegment(directory, firstSeq: head.seq + 1, io)
            io.close(segment.fd)
            segment = next
        } catch {
            poison = error.description
            throw error
        }
    }

    /// Creates an empty segment (never over an existing one) and makes its directory
    /// entry durable before anything is written to it.
    static func createSegment(
        _ directory: String, firstSeq: UInt64, _ io: any FileIO
    ) throws(JournalError) -> OpenSegment {
        let name = SegmentName(firstSeq: firstSeq)
        let path = directory + "/" + name.fileName
        do {
            let fd = try io.open(path, flags: O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, mode: 0o640)
            do {
                try io.syncDirectory(directory)
            } catch {
                io.close(fd)
                throw error
            }
            return OpenSegment(name: name, path: path, fd: fd, size: 0)
        } catch {
            throw JournalError.from(any: error)
        }
    }

    private static func acquireLock(
        _ directory: String, _ options: JournalOptions
    ) throws(JournalError) -> FileDescriptor {
        let io = options.io
        let path = directory + "/.lock"
        var opened: FileDescriptor? = nil
        do {
            try io.makeDirectories(directory, mode: 0o750)
            let fd = try io.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode: 0o640)
            opened = fd
            guard try io.flock(fd, exclusive: true, nonBlocking: true, path: path) else {
                let holder = (try? io.readFile(path, limit: 4096)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                let trimmed = holder.split(separator: "\n").first.map(String.init) ?? "unknown holder"
                throw JournalError.locked(path: path, holder: trimmed)
            }
            try io.ftruncate(fd, length: 0, path: path)
            let text = Array("\(options.holder) since \(options.clock.now().rfc3339)\n".utf8)
            try text.withUnsafeBytes { (b: UnsafeRawBufferPointer) throws in try io.writeAll(fd, b, path: path) }
            return fd
        } catch {
            if let opened { io.close(opened) }  // never leave a held lock behind on failure
            throw JournalError.from(any: error)
        }
    }
}
