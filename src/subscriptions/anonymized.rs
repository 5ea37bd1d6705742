//! Rooms whose Exchange calendar processing rewrites meetings (the defaults
//! `AddOrganizerToSubject`, `DeleteSubject`): the subject becomes empty or the organizer's name.
//! One rule for the connect page's preview and for the engine's check after each run.

/// Fewer timed events than this say nothing: two or three untitled meetings are common in any
/// room, so a smaller sample would flag ordinary rooms. Five still shows on the connect page's
/// preview (ten events) and within a room's first days of imports.
pub const MIN_SAMPLE: usize = 5;

/// `samples` are (subject, organizer name) of upcoming events. Anonymized when there are at
/// least [`MIN_SAMPLE`] and most of them have no subject or the organizer's name as subject.
pub fn looks_anonymized<'a>(samples: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let (mut total, mut suspicious) = (0usize, 0usize);
    for (subject, organizer) in samples {
        total += 1;
        let subject = subject.trim();
        let organizer = organizer.trim();
        if subject.is_empty() || (!organizer.is_empty() && subject.eq_ignore_ascii_case(organizer))
        {
            suspicious += 1;
        }
    }
    total >= MIN_SAMPLE && suspicious * 2 > total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_subjects_rewritten_in_a_large_enough_sample() {
        let rewritten = [("Anna Schmidt", "Anna Schmidt"), ("", "Bob"), ("  ", "")];
        let real = [("Budget", "Anna Schmidt"), ("Jour fixe", "Bob")];
        // Five: three rewritten, two real.
        assert!(looks_anonymized(rewritten.iter().chain(&real).copied()));
        // Four are too few to tell, however they look.
        assert!(!looks_anonymized(
            rewritten.iter().chain(&real[..1]).copied()
        ));
        // Half is not most.
        let six = rewritten.iter().chain(&real).chain(&[("Retro", "Carla")]);
        assert!(!looks_anonymized(six.copied()));
        // A subject that merely contains the organizer's name is a real subject.
        let named = [("Anna Schmidt: Budget", "Anna Schmidt"); 5];
        assert!(!looks_anonymized(named));
        // Case does not matter.
        assert!(looks_anonymized([("ANNA SCHMIDT", "Anna Schmidt"); 5]));
    }
}
