import Testing
import AdPilotSystem

@Suite struct DigestTests {
    @Test func sha256KnownVectors() {
        #expect(Crypto.sha256(Array("".utf8)).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            Crypto.sha256(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func streamingMatchesOneShot() {
        let data = Array((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var h = Crypto.SHA256Hasher()
        data.withUnsafeBytes { all in
            var i = 0
            while i < all.count {
                let n = min(7_777, all.count - i)
                h.update(UnsafeRawBufferPointer(rebasing: all[i..<(i + n)]))
                i += n
            }
        }
        #expect(h.finalize() == Crypto.sha256(data))
    }

    /// RFC 4231, test case 2.
    @Test func hmacSHA256RFC4231() {
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8))
        #expect(mac.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(Crypto.constantTimeEqual(mac, SHA256Digest(hex: mac.hex)!))
        #expect(!Crypto.constantTimeEqual(mac, Crypto.sha256([1])))
    }

    @Test func hexParsingIsStrict() {
        #expect(SHA256Digest(hex: String(repeating: "a", count: 64)) != nil)
        #expect(SHA256Digest(hex: String(repeating: "A", count: 64)) == nil)
        #expect(SHA256Digest(hex: String(repeating: "a", count: 63)) == nil)
        #expect(SHA256Digest(hex: String(repeating: "g", count: 64)) == nil)
    }

    @Test func linkedLibrariesReportVersions() {
        #expect(LinkedLibraries.curl.first?.isNumber == true)
        #expect(LinkedLibraries.openSSL.hasPrefix("OpenSSL 3"))
    }

    @Test func sdNotifyWithoutSystemdIsANoOp() {
        // The test runner is not a systemd service unless NOTIFY_SOCKET is set.
        if getenvString("NOTIFY_SOCKET") == nil {
            #expect(SystemdNotify.send("STATUS=test") == .notSupervised)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
func getenvString(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
