package import AdPilotSystem

package struct VerifyReport: Sendable, Equatable {
    package var records: UInt64 = 0
    package var segments = 0
    package var seals = 0
    package var bytes: Int64 = 0
    package var head = RecordRef(seq: 0, hash: RecordFormat.genesis)
    /// With a key: the last seq a valid seal vouches for.
    package var sealedThrough: UInt64 = 0
    /// An unfinished line at the very end of the last segment (a write in progress, or a
    /// torn tail the writer will recover at its next open). Not counted, not an error.
    package var incompleteTailBytes = 0
}

package struct VerifyFailure: Error, Sendable, Equatable, CustomStringConvertible {
    package let seq: UInt64?
    package let segment: String
    package let offset: Int64
    package let problem: String

    package var description: String {
        "\(seq.map { "seq \($0): " } ?? "")\(segment) byte \(offset): \(problem)"
    }
}

/// Verifies a whole journal: every byte of every record (SHA-256 of the line), the chain
/// (`prev`), seq continuity within and across segments, and with a key every seal's
/// HMAC and the spacing of seals. Reads at disk speed: no JSON parser.
package enum JournalVerifier {
    package static func verify(
        directory: String, key: [UInt8]? = nil, defaultSealInterval: Int = JournalOptions.sealIntervalDefault,
        io: any FileIO = PosixFileIO()
    ) -> Result<VerifyReport, VerifyFailure> {
        var report = VerifyReport()
        var expected: UInt64 = 1
        let sha = Crypto.SHA256Context()
        var prev = RecordFormat.genesis.hexBytes  // 64 hex bytes of the last hash, reused in place
        var lastSealedSeq: UInt64 = 0
        var interval = defaultSealInterval
        let names: [SegmentName]
        do {
            names = try io.segmentNames(directory)
        } catch {
            return .failure(VerifyFailure(seq: nil, segment: directory, offset: 0, problem: "\(error)"))
        }
        for (index, name) in names.enumerated() {
            guard name.firstSeq == expected else {
                return .failure(
                    VerifyFailure(
                        seq: expected, segment: name.fileName, offset: 0,
                        problem:
                            "segment starts at seq \(name.firstSeq), expected \(expected): a segment is missing, or "
                                + "records were removed"
                    ))
            }
            var failure: VerifyFailure? = nil
            let path = directory + "/" + name.fileName
            do {
                let (end, _) = try SegmentScanner(io: io, path: path).scan(from: 0) { offset, line in
                    func fail(_ problem: String, seq: UInt64? = expected) -> Bool {
                        failure = VerifyFailure(seq: seq, segment: name.fileName, offset: offset, problem: problem)
                        return false
                    }
                    guard let h = LineHeader.parse(line) else {
                        return fail("not a journal record (damaged or inserted bytes)")
                    }
                    guard h.seq == expected else {
                        return fail(
                            "found seq \(h.seq), expected \(expected): a record was removed, inserted or reordered")
                    }
                    guard prev.withUnsafeBytes({ h.prevMatches(line, $0) }) else {
                        return fail("prev does not match the previous record's hash: the chain is broken")
                    }
                    guard h.hashMatches(line, sha) else {
                        return fail("hash mismatch: the record's bytes were changed")
                    }
                    if h.kindIs("seal", in: line) {
                        report.seals += 1
                        if let key {
                            guard let seal = Seal.parse(line, h) else { return fail("seal record is malformed") }
                            guard seal.sealedSeq == h.seq - 1, seal.sealedHash == String(decoding: prev, as: UTF8.self)
                            else {
                                return fail(
                                    "seal vouches for a different record than the one before it: the chain was "
                                        + "rewritten"
                                )
                            }
                            let message = "adpilot-seal-v1\n\(h.seq)\n\(seal.sealedHash)\n\(seal.interval)"
                            let mac = Crypto.hmacSHA256(key: key, data: Array(message.utf8))
                            guard let stored = SHA256Digest(hex: seal.mac), Crypto.constantTimeEqual(mac, stored) else {
                                return fail(
                                    "seal MAC does not verify: the chain was rewritten without the key, or this is the "
                                        + "wrong key"
                                )
                            }
                            let gap = h.seq - lastSealedSeq - 1  // records since the previous seal
                            guard gap <= UInt64(seal.interval) else {
                                return fail(
                                    "\(gap) records before this seal, but seals come every \(seal.interval): seals "
                                        + "were removed"
                                )
                            }
                            lastSealedSeq = h.seq
                            interval = seal.interval
                            report.sealedThrough = h.seq
                        }
                    }
                    prev.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: line[h.hash])) }
                    report.records += 1
                    report.bytes += Int64(line.count + 1)
                    expected += 1
                    return true
                }
                if let failure { return .failure(failure) }
                let size = try fileSize(io, path)
                if end < size {
                    guard index == names.count - 1 else {
                        return .failure(
                            VerifyFailure(
                                seq: expected, segment: name.fileName, offset: end,
                                problem: "a closed segment ends with an incomplete record"))
                    }
                    report.incompleteTailBytes = Int(size - end)
                }
            } catch {
                return .failure(VerifyFailure(seq: expected, segment: name.fileName, offset: 0, problem: "\(error)"))
            }
            report.segments += 1
        }
        report.head = RecordRef(seq: expected - 1, hash: SHA256Digest(hex: String(decoding: prev, as: UTF8.self))!)
        if key != nil {
            let unsealed = report.head.seq - lastSealedSeq
            if unsealed > UInt64(interval) {
                return .failure(
                    VerifyFailure(
                        seq: lastSealedSeq + UInt64(interval) + 1, segment: names.last?.fileName ?? directory,
                        offset: 0,
                        problem: "\(unsealed) records after the last seal (seq \(lastSealedSeq)), "
                            + "but seals come every \(interval): seals were removed or the journal was written without "
                            + "the key"
                    ))
            }
        }
        return .success(report)
    }

    private static func fileSize(_ io: any FileIO, _ path: String) throws -> Int64 {
        let fd = try io.open(path, flags: 0, mode: 0)
        defer { io.close(fd) }
        return try io.size(fd, path: path)
    }
}

/// A seal record's data, parsed from its fixed form
/// `{"interval":N,"mac":"<hex>","sealed_hash":"<hex>","sealed_seq":S}`.
struct Seal {
    let interval: Int
    let mac: String
    let sealedHash: String
    let sealedSeq: UInt64

    static func parse(_ line: UnsafeRawBufferPointer, _ h: LineHeader) -> Seal? {
        let text = h.string(h.data, in: line)
        guard text.hasPrefix(#"{"interval":"#), text.hasSuffix("}") else { return nil }
        let parts = text.dropFirst().dropLast().split(separator: ",")
        guard parts.count == 4 else { return nil }
        func value(_ part: Substring, _ key: String) -> Substring? {
            let prefix = "\"\(key)\":"
            guard part.hasPrefix(prefix) else { return nil }
            return part.dropFirst(prefix.count)
        }
        guard let i = value(parts[0], "interval").flatMap({ Int($0) }), i >= 1,
            let mac = value(parts[1], "mac"), mac.count == 66,
            let sh = value(parts[2], "sealed_hash"), sh.count == 66,
            let ss = value(parts[3], "sealed_seq").flatMap({ UInt64($0) })
        else { return nil }
        return Seal(
            interval: i, mac: String(mac.dropFirst().dropLast()), sealedHash: String(sh.dropFirst().dropLast()),
            sealedSeq: ss)
    }
}
