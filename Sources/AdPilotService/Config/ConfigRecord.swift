import AdPilotControl
import AdPilotJournal
import AdPilotPlatforms
import Foundation

/// `config` records: the accepted configuration in full (decisions cite its digest), or a
/// refused reload with the reason.
enum ConfigRecord {
    case accepted(ServiceConfig)
    case refused(String, keeping: ServiceConfig)

    var bytes: [UInt8] {
        switch self {
        case .accepted(let c):
            return Array(#"{"accepted":true,"config":\#(c.canonicalJSON),"digest":"\#(c.digest.hex)"}"#.utf8)
        case .refused(let problem, let c):
            return Array(#"{"accepted":false,"digest":"\#(c.digest.hex)","problem":\#(JSON.quote(problem))}"#.utf8)
        }
    }

    /// An accepted configuration read back from a `config` record's data, with the digest
    /// it was journaled under (what decisions cite); nil for a refused reload or data that
    /// does not parse.
    static func accepted(_ bytes: some Collection<UInt8>) -> (digest: String, config: ServiceConfig)? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            o["accepted"] as? Bool == true, let digest = o["digest"] as? String, let c = o["config"],
            let json = try? JSONSerialization.data(withJSONObject: c),
            let config = try? ServiceConfig.parse(bytes: Array(json))
        else { return nil }
        return (digest, config)
    }
}
