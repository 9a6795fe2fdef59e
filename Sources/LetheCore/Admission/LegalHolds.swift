import Foundation

/// Placing and lifting legal holds, each audited with who did it: while a hold stands,
/// no request of the user changes anything.
public struct LegalHolds: Sendable {
    let engine: ErasureEngine

    /// Places a hold on `subject`'s requests. `reason` is an operator's free text (a
    /// case number): it stays with the hold, never in the audit trail.
    public func place(on subject: ErasureSubject, reason: String, actor: String?) async throws -> LegalHold {
        try SubjectBinding.checkPlain(subject.userId ?? "", which: "the user id")
        let pseudonym = SubjectPseudonymizer(key: try await engine.state.subjectKey()).pseudonym(for: subject)
        let hold = LegalHold(id: LegalHold.newID(), subjectPseudonym: pseudonym, reason: reason, createdAt: engine.now())
        try await engine.state.addHold(hold)
        try await engine.state.appendAudit([entry(.holdPlaced, hold: hold.id, pseudonym: pseudonym, actor: actor)])
        return hold
    }

    /// Lifts a hold; false when there was none. Held requests run on their next claim.
    public func lift(holdId: String, actor: String?) async throws -> Bool {
        let pseudonym = try await engine.state.holds().first { $0.id == holdId }?.subjectPseudonym
        guard try await engine.state.removeHold(id: holdId) else { return false }
        try await engine.state.appendAudit([entry(.holdLifted, hold: holdId, pseudonym: pseudonym, actor: actor)])
        return true
    }

    private func entry(_ event: AuditEntry.Event, hold: String, pseudonym: String?, actor: String?) -> AuditEntry {
        var entry = AuditEntry(at: engine.now(), event: event, subjectPseudonym: pseudonym, channel: .cli, note: "legal hold \(hold)")
        entry.actor = actor
        return entry
    }
}
