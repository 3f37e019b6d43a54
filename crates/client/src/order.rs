//! One sort for everything the app orders by an id. Each `sort` of another element type
//! compiles to its own few kilobytes in the web app (five of them took 15 KB); these sort
//! plain `(key, position)` pairs, so the sorting code exists once.

/// Sorts `items` by `key`, keeping the order of items with equal keys.
pub fn sort_by_key_u128<T>(items: &mut Vec<T>, key: impl Fn(&T) -> u128) {
    let mut keyed: Vec<(u128, usize)> = items.iter().enumerate().map(|(at, item)| (key(item), at)).collect();
    sort_pairs(&mut keyed);
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(keyed.into_iter().filter_map(|(_, at)| slots[at].take()));
}

/// The one sort: positions differ, so an unstable sort gives the stable order.
#[inline(never)]
fn sort_pairs(pairs: &mut [(u128, usize)]) {
    pairs.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_key_and_keeps_ties_in_order() {
        let mut items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_by_key_u128(&mut items, |&(key, _)| key);
        assert_eq!(items, vec![(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut empty: Vec<u8> = vec![];
        sort_by_key_u128(&mut empty, |&b| u128::from(b));
        assert!(empty.is_empty());
    }
}
