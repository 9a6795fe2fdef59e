import Foundation
import HTTPTypes
import Hummingbird
import LetheCore
import Logging

/// Why HTTP refused a delivery before reading any event, as stored in the refusals
/// collection (channel `http`).
public enum HTTPRefusalCode: String, Sendable, Hashable, CaseIterable {
    /// 401: no credentials, a wrong token, a malformed, stale or wrong signature.
    case unauthenticated
    /// 413: a body over `HTTPIntake.Options.maximumBodyBytes`.
    case tooLarge = "too-large"
}

/// Answers a refused delivery and records it, at most `perMinute` records a minute: a
/// flood of unauthenticated requests must not become a flood of writes. What is not
/// recorded is counted, and the next record says how many it stands for. A record holds
/// the code and the reason, which names headers and limits, never what was sent.
actor HTTPRefusalRecorder {
    let intake: any EventIntake
    let perMinute: Int
    var windowStart = Date.distantPast
    var inWindow = 0
    var notRecorded = 0

    init(intake: any EventIntake, perMinute: Int = 60) {
        self.intake = intake
        self.perMinute = perMinute
    }

    nonisolated func refuse(_ status: HTTPResponse.Status, code: HTTPRefusalCode, reason: String, logger: Logger) async -> Response {
        logger.notice("event delivery refused", metadata: [LogKey.reason: .string(reason), LogKey.code: .string(code.rawValue)])
        await record(code: code, reason: reason, logger: logger)
        return HTTPIntake.json(status, ["error": reason, "code": code.rawValue])
    }

    func record(code: HTTPRefusalCode, reason: String, logger: Logger) async {
        let now = Date()
        if now.timeIntervalSince(windowStart) >= 60 {
            windowStart = now
            inWindow = 0
        }
        guard inWindow < perMinute else {
            notRecorded += 1
            return
        }
        inWindow += 1
        let also = notRecorded > 0 ? " (and \(notRecorded) more refused deliveries not recorded one by one)" : ""
        notRecorded = 0
        let refusal = IntakeRefusal(at: now, channel: .http, code: code.rawValue, field: nil, message: reason + also)
        do { try await intake.record([refusal]) } catch {
            logger.error("a refused delivery could not be recorded", metadata: [LogKey.reason: .string("\(error)")])
        }
    }
}
