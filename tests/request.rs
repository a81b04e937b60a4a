//! The page's URL form of a request (what shared links and the widget carry), under
//! arbitrary input: every request survives the trip through its query string, and
//! any query string at all parses to a request within the page's limits.

use proptest::prelude::*;
use unmask::prosody::Pattern;
use unmask::request::{bounds, Request};
use unmask::sampler::{Remasking, Settings};
use unmask::tasks::{PoemForm, Task};

fn request() -> impl Strategy<Value = Request> {
    (
        (0..Task::ALL.len(), 0..PoemForm::ALL.len(), any::<String>()),
        (
            bounds::STEPS,
            bounds::BLOCK_LENGTH,
            any::<bool>(),
            bounds::TEMPERATURE,
            proptest::option::of(0.01f32..=bounds::THRESHOLD_MAX),
            any::<u32>(),
        ),
        (any::<bool>(), "[\\p{Han}a-z]{0,8}", 0..=Pattern::ALL.len()),
    )
        .prop_map(
            |((t, f, text), (steps, block_length, random, temperature, threshold, seed), (metre, rhyme, pat))| {
                Request {
                    task: Task::ALL[t],
                    form: PoemForm::ALL[f],
                    text,
                    metre,
                    rhyme,
                    // A pattern by key, or none.
                    pattern: Pattern::ALL.get(pat).map(|p| p.key().to_string()).unwrap_or_default(),
                    params: Settings {
                        steps,
                        block_length,
                        remasking: if random { Remasking::Random } else { Remasking::LowConfidence },
                        temperature,
                        threshold,
                        pinned: vec![],
                        seed,
                    },
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_request_survives_its_query_string(r in request()) {
        let q = r.to_query();
        let back = Request::from_query(&format!("?{q}"));
        prop_assert_eq!(&back.text, &r.text, "query {}", q);
        prop_assert_eq!(back.task, r.task);
        // The form too, whatever the task (it used to be dropped unless the task was a poem).
        prop_assert_eq!(back.form, r.form);
        prop_assert_eq!(back.params, r.params);
        prop_assert_eq!((back.metre, &back.rhyme, &back.pattern), (r.metre, &r.rhyme, &r.pattern));
    }

    #[test]
    fn any_query_string_parses_within_limits(q in ".{0,200}", raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        for q in [q, String::from_utf8_lossy(&raw).into_owned()] {
            let r = Request::from_query(&q);
            prop_assert!(bounds::STEPS.contains(&r.params.steps), "steps {} from {:?}", r.params.steps, q);
            prop_assert!(bounds::BLOCK_LENGTH.contains(&r.params.block_length), "block {} from {:?}", r.params.block_length, q);
            prop_assert!(bounds::temperature_ok(r.params.temperature));
            prop_assert!(r.params.threshold.is_none_or(bounds::threshold_ok));
            // What parsed is what the link says again.
            prop_assert_eq!(Request::from_query(&r.to_query()).text, r.text.clone());
        }
    }
}
