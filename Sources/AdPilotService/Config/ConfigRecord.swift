import AdPilotControl
import AdPilotJournal
import AdPilotPlatforms

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
}
