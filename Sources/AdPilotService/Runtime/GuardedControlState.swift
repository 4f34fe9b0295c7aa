import AdPilotControl
import AdPilotJournal
import AdPilotCore
import AdPilotSystem

extension Guarded where Value == ControlState {
    var mode: Mode { with { $0.mode } }
}
