//! Reference names: a step named `Shape Order` is read as `steps.shapeOrder`.

/// The camelCase reference name of a step or flow name: words split on anything that is not a
/// letter or digit and on lower-to-upper case changes; the first word lower-cased, the others
/// capitalized (`Send To ERP` → `sendToErp`, `Big Order?` → `bigOrder`, `Step 2` → `step2`).
pub fn reference_name(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            push_word(&mut words, &mut current);
            previous_lower = false;
            continue;
        }
        if ch.is_uppercase() && previous_lower {
            push_word(&mut words, &mut current);
        }
        previous_lower = ch.is_lowercase() || ch.is_ascii_digit();
        current.push(ch);
    }
    push_word(&mut words, &mut current);
    let mut out = String::new();
    for (index, word) in words.iter().enumerate() {
        let lower = word.to_lowercase();
        if index == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

fn push_word(words: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        words.push(std::mem::take(current));
    }
}

#[cfg(test)]
mod tests {
    use super::reference_name;

    #[test]
    fn names_become_camel_case() {
        assert_eq!(reference_name("Shape Order"), "shapeOrder");
        assert_eq!(reference_name("Big Order?"), "bigOrder");
        assert_eq!(reference_name("Send To ERP"), "sendToErp");
        assert_eq!(reference_name("Step 2"), "step2");
        assert_eq!(reference_name("shapeOrder"), "shapeOrder");
        assert_eq!(reference_name("  trigger "), "trigger");
        assert_eq!(reference_name("???"), "");
    }
}
