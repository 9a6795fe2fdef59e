/// Where Lethe keeps its own records (the state database, `lethe` by default):
/// requests and their progress, receipts, legal holds, and its pseudonym key.
public protocol StateStore: Sendable {
    /// The key for subject pseudonyms: created once, then always the same.
    func subjectKey() async throws -> SecretKey
    /// The unfinished request for this user, if any.
    func openRequest(subjectPseudonym: String) async throws -> ErasureRequest?
    func request(id: String) async throws -> ErasureRequest?
    func insert(_ request: ErasureRequest) async throws
    /// Replaces the stored request with this one (progress, state).
    func save(_ request: ErasureRequest) async throws
    func saveReceipt(_ receipt: Receipt) async throws
    func receipt(requestId: String) async throws -> Receipt?
    func activeHold(subjectPseudonym: String) async throws -> LegalHold?
    func addHold(_ hold: LegalHold) async throws
    func holds() async throws -> [LegalHold]
    /// Removes a hold by id; false when there was none.
    func removeHold(id: String) async throws -> Bool
}
