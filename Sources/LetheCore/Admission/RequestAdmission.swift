import BSON
import Foundation
import Logging

/// Takes requests in and lets people act on them: records a request per user and per
/// event (the same event twice is one request), puts a failed one back, approves one
/// over the guard rail. Refuses ids that do not fit the policies before recording
/// anything. It writes no data: the eraser does.
public struct RequestAdmission: Sendable {
    let engine: ErasureEngine

    /// One event to take in.
    public struct Arrival: Sendable {
        public var subject: ErasureSubject
        public var dedupeKey: String?
        public var source: Channel
        public var reason: String?

        public init(subject: ErasureSubject, dedupeKey: String?, source: Channel, reason: String? = nil) {
            self.subject = subject
            self.dedupeKey = dedupeKey
            self.source = source
            self.reason = reason
        }
    }

    /// What taking in one arrival gave: its request, and whether this call recorded it.
    public struct Admitted: Sendable {
        public var request: ErasureRequest
        public var isNew: Bool
    }

    /// Records a request for `subject`, or returns the user's unfinished one so that it
    /// resumes.
    public func submit(_ subject: ErasureSubject, source: Channel, reason: String? = nil) async throws -> ErasureRequest {
        try await receive(subject, source: source, reason: reason).request
    }

    /// Like `submit`, for events: the same `dedupeKey` twice yields the one request
    /// (even when two workers take in the same event at once).
    public func receive(_ subject: ErasureSubject, source: Channel, reason: String? = nil, dedupeKey: String? = nil) async throws -> Admitted {
        try await receiveAll([Arrival(subject: subject, dedupeKey: dedupeKey, source: source, reason: reason)])[0].get()
    }

    /// `receiveAll` in chunks of `chunkSize`, as a sweep records what it found: how many
    /// new requests were recorded, and how many arrivals were refused.
    public func receiveInChunks(_ arrivals: [Arrival], chunkSize: Int) async throws -> (recorded: Int, refused: Int) {
        var (recorded, refused) = (0, 0)
        for chunk in arrivals.chunked(into: chunkSize) {
            for result in try await receiveAll(chunk) {
                switch result {
                case .success(let admitted): recorded += admitted.isNew ? 1 : 0
                case .failure: refused += 1
                }
            }
        }
        return (recorded, refused)
    }

    /// `receive` for many events at once, in a few round trips whatever their number:
    /// known event keys and users' open requests are looked up together, new requests
    /// inserted together. One result per arrival, in order.
    public func receiveAll(_ arrivals: [Arrival]) async throws -> [Result<Admitted, EngineError>] {
        let key = SubjectPseudonymizer(key: try await engine.state.subjectKey())
        var results = [Result<Admitted, EngineError>?](repeating: nil, count: arrivals.count)
        var candidates: [Candidate] = []
        for (position, arrival) in arrivals.enumerated() {
            do {
                _ = try engine.bindings(of: arrival.subject)
                candidates.append(Candidate(position: position, arrival: arrival, pseudonym: key.pseudonym(for: arrival.subject)))
            } catch {
                results[position] = .failure(error)
            }
        }
        let known = try await engine.state.requests(dedupeKeys: candidates.compactMap(\.arrival.dedupeKey))
        let open = try await engine.state.openRequests(subjectPseudonyms: Array(Set(candidates.map(\.pseudonym))))
        let received = engine.now()
        var fresh: [ErasureRequest] = []
        var freshBySubject: [String: Int] = [:]
        var freshFor: [(position: Int, fresh: Int)] = []
        for candidate in candidates {
            if let dedupeKey = candidate.arrival.dedupeKey, let existing = known[dedupeKey] {
                results[candidate.position] = .success(Admitted(request: existing, isNew: false))
            } else if let existing = open[candidate.pseudonym] {
                results[candidate.position] = .success(Admitted(request: existing, isNew: false))
            } else if let earlier = freshBySubject[candidate.pseudonym] {
                // The same user twice in one delivery: one request.
                results[candidate.position] = .success(Admitted(request: fresh[earlier], isNew: false))
            } else {
                freshBySubject[candidate.pseudonym] = fresh.count
                freshFor.append((candidate.position, fresh.count))
                fresh.append(newRequest(candidate, at: received))
            }
        }
        let collided = try await engine.state.insertAll(fresh)
        let winners = collided.isEmpty ? [:] : try await engine.state.requests(dedupeKeys: Array(collided))
        let recorded = fresh.filter { !($0.dedupeKey.map(collided.contains) ?? false) }
        for (position, index) in freshFor {
            let request = fresh[index]
            if let key = request.dedupeKey, collided.contains(key), let winner = winners[key] {
                results[position] = .success(Admitted(request: winner, isNew: false))
            } else {
                results[position] = .success(Admitted(request: request, isNew: true))
            }
        }
        try await engine.state.appendAudit(recorded.map {
            AuditEntry.about($0, .received, at: received, note: "deletion request, due \(ISO8601DateFormatter().string(from: $0.dueAt ?? received))")
        })
        if !fresh.isEmpty {
            engine.logger.info("requests received", metadata: [LogKey.new: .stringConvertible(recorded.count), LogKey.arrivals: .stringConvertible(arrivals.count)])
        }
        return results.map { $0! }
    }

    /// An arrival whose ids fit the policies, with its user's pseudonym.
    private struct Candidate {
        let position: Int
        let arrival: Arrival
        let pseudonym: String
    }

    private func newRequest(_ candidate: Candidate, at received: Date) -> ErasureRequest {
        let deadline = engine.policies.compactMap(\.deadline).min { $0.added(to: received) < $1.added(to: received) } ?? Policy.defaultDeadline
        var request = ErasureRequest(
            id: ErasureRequest.newID(at: received), subjectPseudonym: candidate.pseudonym, subject: candidate.arrival.subject,
            source: candidate.arrival.source, reason: candidate.arrival.reason, receivedAt: received, dueAt: deadline.added(to: received),
            policies: engine.policies.map { PolicyReference(name: $0.name, fingerprint: $0.fingerprint) }
        )
        request.rules = engine.policyRules.map {
            RuleProgress(policy: $0.policy.name, ruleIndex: $0.rule.index, namespace: $0.namespace.description, action: $0.rule.action.kind)
        }
        request.dedupeKey = candidate.arrival.dedupeKey
        return request
    }

    /// Puts a failed request back in the queue; `actor` is who asked.
    public func retry(requestId: String, actor: String? = nil) async throws -> ErasureRequest {
        var request = try await stored(requestId)
        guard request.state == .failed else { throw EngineError.cannotRetry(requestId, request.state) }
        try request.take(.retry)
        try await engine.state.save(request)
        var entry = AuditEntry.about(request, .retried, at: engine.now())
        entry.actor = actor
        try await engine.state.appendAudit([entry])
        return request
    }

    /// Lets a request that waits for approval run past the guard rail; `actor` is who
    /// approved it.
    public func approve(requestId: String, actor: String? = nil) async throws -> ErasureRequest {
        var request = try await stored(requestId)
        guard [.needsApproval, .received, .failed].contains(request.state) else {
            throw EngineError.cannotApprove(requestId, request.state)
        }
        request.approved = true
        try request.take(.approved)
        try await engine.state.save(request)
        var entry = AuditEntry.about(request, .approved, at: engine.now())
        entry.actor = actor
        try await engine.state.appendAudit([entry])
        return request
    }

    private func stored(_ requestId: String) async throws -> ErasureRequest {
        guard let request = try await engine.state.request(id: requestId) else { throw EngineError.unknownRequest(requestId) }
        return request
    }
}
