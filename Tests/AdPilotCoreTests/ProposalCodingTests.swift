import Foundation
import Testing
@testable import AdPilotCore

/// How a proposal reads in the journal, and that journals written with the older
/// synthesized shape still decode.
@Suite struct ProposalCodingTests {
    func json(_ p: Proposal) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return String(decoding: try e.encode(p), as: UTF8.self)
    }

    func decode(_ text: String) throws -> Proposal {
        try JSONDecoder().decode(Proposal.self, from: Data(text.utf8))
    }

    @Test func encodesPlainly() throws {
        #expect(try json(.micros(220_000_000.5)) == #"{"budget_micros":220000000.5}"#)
        #expect(try json(.micros(.nan)) == #"{"budget_micros":"nan"}"#)
        #expect(try json(.failed("shape mismatch")) == #"{"error":"shape mismatch"}"#)
    }

    @Test func roundTripsAndReadsTheOlderShape() throws {
        for p in [Proposal.micros(1), .micros(-.infinity), .micros(.nan), .failed("x")] {
            #expect(try decode(try json(p)) == p)
        }
        #expect(try decode(#"{"budget":{"_0":220000000.00000003}}"#) == .micros(220_000_000.00000003))
        #expect(try decode(#"{"failed":{"_0":"boom"}}"#) == .failed("boom"))
        let snake = JSONDecoder()
        snake.keyDecodingStrategy = .convertFromSnakeCase  // as the journal's record decoder does
        #expect(try snake.decode(Proposal.self, from: Data(try json(.micros(5)).utf8)) == .micros(5))
        #expect(try snake.decode(Proposal.self, from: Data(#"{"budget":{"_0":7}}"#.utf8)) == .micros(7))
        #expect(throws: DecodingError.self) { try decode(#"{"budget":1}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{}"#) }
    }
}
