/// Where a policy's existing users are listed (`users:`), for the orphan sweep: an id
/// linked from the data but found in no users document belongs to a deleted user whose
/// deletion event never arrived.
public struct UsersSpec: Sendable, Hashable {
    /// How long an orphan must have been seen before it is erased when `grace` is not
    /// written: one day, so that a user created moments ago, whose users document the
    /// app has not written yet, is never taken for a deleted one.
    public static let defaultGrace = PolicyDuration(1, .day)

    /// The database of the users collection; nil means the policy's `database`.
    public var database: String?
    /// The users collection, e.g. App Services' custom user data collection.
    public var collection: String
    /// The field of a users document holding the user's id.
    public var field: String
    /// A field of a users document listing the ids of the user's linked identities,
    /// which count as existing too. Default nil: none.
    public var identities: String?
    /// The `grace` as written; nil when absent (see `effectiveGrace`).
    public var grace: PolicyDuration?
    /// A date field of a users document saying when the user signed up, for the restore
    /// sweep: a user found there created after their tombstone signed up again and is
    /// kept. Default nil: the creation time of an ObjectId `_id`.
    public var created: String?

    public init(database: String? = nil, collection: String, field: String, identities: String? = nil, grace: PolicyDuration? = nil,
                created: String? = nil) {
        self.database = database
        self.collection = collection
        self.field = field
        self.identities = identities
        self.grace = grace
        self.created = created
    }

    /// `grace`, or `defaultGrace` (1d).
    public var effectiveGrace: PolicyDuration { grace ?? Self.defaultGrace }
}
