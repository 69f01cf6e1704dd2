//! The NLU training-data readers (`wismo nlu train|evaluate`, the server's
//! custom training files): Rasa NLU YAML and CSV on arbitrary text. Each must
//! return examples or an error with a line number, never panic; what parses
//! also goes through the custom-entity trainer that consumes it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wismo_core::nlu::custom_entities::CustomEntityModel;
use wismo_core::nlu::data::{self, TrainingData};

fn check(parsed: Result<TrainingData, data::DataError>) {
    match parsed {
        Ok(d) => {
            let _ = d.intents();
            let _ = CustomEntityModel::train(&d);
            let mut all = TrainingData::default();
            let n = d.examples.len();
            all.merge(d);
            assert_eq!(all.examples.len(), n);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    check(data::parse_rasa_yaml(src, "fuzz.yml"));
    check(data::parse_csv(src, "fuzz.csv"));
});
