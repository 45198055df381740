/// The source domains that own a topic each, plus the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Users,
    Training,
    /// The exercise library: the latest definition of every exercise, keyed by exercise
    /// id, compacted (reference data any consumer can rebuild its catalog from).
    Exercises,
    Schedule,
    Progress,
    Alerts,
    Notifications,
    DeadLetter,
}

impl Topic {
    pub const ALL: [Topic; 8] = [
        Topic::Users,
        Topic::Training,
        Topic::Exercises,
        Topic::Schedule,
        Topic::Progress,
        Topic::Alerts,
        Topic::Notifications,
        Topic::DeadLetter,
    ];

    /// The source domains' topics: searchable history (the indexer reads these; not
    /// `Notifications`, which carries one-time tokens).
    pub const DOMAIN: [Topic; 4] = [
        Topic::Users,
        Topic::Training,
        Topic::Schedule,
        Topic::Progress,
    ];

    /// Kept by key (the newest record of each), not by time.
    pub fn compacted(self) -> bool {
        self == Topic::Exercises
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Topic::Users => "fitsync.users",
            Topic::Training => "fitsync.training",
            Topic::Exercises => "fitsync.exercises",
            Topic::Schedule => "fitsync.schedule",
            Topic::Progress => "fitsync.progress",
            Topic::Alerts => "fitsync.alerts",
            Topic::Notifications => "fitsync.notifications",
            Topic::DeadLetter => "fitsync.deadletter",
        }
    }
}

/// Topic names with an optional prefix, so that several environments (or tests) can
/// share one cluster without seeing each other's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn name(&self, topic: Topic) -> String {
        format!("{}{}", self.prefix, topic.suffix())
    }

    /// The full name of a topic stored by suffix (as the outbox stores it).
    pub fn name_of(&self, suffix: &str) -> String {
        format!("{}{}", self.prefix, suffix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_prepended() {
        assert_eq!(
            Topics::new("t1.").name(Topic::Training),
            "t1.fitsync.training"
        );
        assert_eq!(
            Topics::default().name(Topic::DeadLetter),
            "fitsync.deadletter"
        );
    }
}
