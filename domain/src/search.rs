//! How free text is compared in searches: in one Unicode form, case-insensitively, and
//! with ё read as е (Russian writes «Федорова» for «Фёдорова» as often as not).

use unicode_normalization::UnicodeNormalization;

/// `text` as searches store and compare it; applied alike to what is searched and to what
/// is typed, so either spelling finds the other.
pub fn fold(text: &str) -> String {
    text.nfc()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn yo_case_and_composition_fold_away() {
        for typed in ["Фёдорова", "ФЁДОРОВА", "федорова", "Фе\u{308}дорова"] {
            assert_eq!(fold(typed), "федорова", "{typed:?}");
        }
        assert_eq!(fold("Й"), "й", "й is its own letter");
        assert_eq!(fold("A_b%"), "a_b%");
    }
}
