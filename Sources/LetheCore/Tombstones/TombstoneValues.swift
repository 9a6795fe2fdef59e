import BSON
import Foundation

extension ErasureEngine {
    /// The values a finished request erased, each once, as their tombstones key them:
    /// the one place that says what a request's "values to tombstone" are.
    ///
    /// The user id and (for policies with `subject.includeIdentities`) the identity ids,
    /// in every typed form some policy bound them to (an id that is an ObjectId under
    /// `idType: any` is erased as a string and as an ObjectId; both are kept); and the
    /// named identifiers (an email) the request carried, as the strings they are. Only
    /// what some policy erased: an identity no policy includes was not erased, and a
    /// tombstone for it would let the restore sweep erase more than the request did.
    ///
    /// Lookup values are not tombstoned: they are read again, from the restored source
    /// documents, by the request the restore sweep records.
    public func tombstoneValues(of subject: ErasureSubject) -> [TombstoneValue] {
        var values: [TombstoneValue] = []
        var seen = Set<String>()
        func add(_ kind: TombstoneKind, _ bound: [BSON]) {
            for value in bound {
                guard let text = TombstoneKeyer.text(of: value), seen.insert(text).inserted else { continue }
                values.append(TombstoneValue(kind: kind, text: text))
            }
        }
        for policy in policies {
            let idType = policy.subject.idType
            if let userId = subject.userId {
                add(.userId, (try? SubjectBinding.bind(userId, idType: idType, which: "the user id")) ?? [])
            }
            guard policy.subject.includeIdentities else { continue }
            for identity in subject.identities {
                add(.identity, (try? SubjectBinding.bind(identity, idType: idType, which: "an identity id", lenientAny: true)) ?? [])
            }
        }
        let declared = Set(declaredIdentifiers)
        for (name, value) in subject.identifiers.sorted(by: { $0.key < $1.key }) where declared.contains(name) {
            add(.identifier(name), [.string(value)])
        }
        return values
    }

    /// The tombstones of requests just finished (done), keyed with the subject key.
    func tombstones(of members: [BatchMember], at date: Date) async throws -> [Tombstone] {
        let done = members.filter { $0.request.state == .done }
        guard !done.isEmpty else { return [] }
        let keyer = TombstoneKeyer(key: try await state.subjectKey())
        return done.flatMap { member in
            tombstoneValues(of: member.subject).map {
                Tombstone(key: keyer.key(for: $0.text), requestId: member.id, kind: $0.kind, erasedAt: date)
            }
        }
    }

    /// How long tombstones are kept: the longest `tombstones.keep` of the policies (a
    /// policy without one counts as the default, 400 days). The longest, because the
    /// tombstones serve every policy at once, and one dropped too early lets a restored
    /// backup bring back data some policy erased; `PolicyLoader` warns when they differ.
    public var tombstoneKeep: PolicyDuration {
        let keeps = policies.map(\.effectiveTombstoneKeep)
        let now = Date()
        return keeps.max { $0.added(to: now) < $1.added(to: now) } ?? TombstoneSpec.defaultKeep
    }
}
