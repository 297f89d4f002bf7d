//! DynamoDB Streams: cache invalidation and external sync per entity, `REMOVE`, an image that does not decode.

use super::*;

#[tokio::test(start_paused = true)]
async fn dynamodb_changes_invalidate_the_cache_and_sync_remove_deletes() {
    let o = orders();
    let pkey = ItemKey::new("PRODUCT#7", "META");
    o.cache.put(pkey.clone(), json!({}));
    let product = json!({"pk": "PRODUCT#7", "sk": "META", "name": "Saucer", "price": 400});
    let user =
        json!({"pk": "USER#ana", "sk": "PROFILE", "email": "ana@example.com", "name": "Ana"});
    let order =
        json!({"pk": "ORDER#5", "sk": "META", "email": "e@example.com", "total": 100, "items": 1});
    let keys = |v: &Value| json!({"pk": v["pk"], "sk": v["sk"]});
    let out = o
        .app
        .send(dynamodb::batch([
            dynamodb::insert(keys(&product), &product),
            dynamodb::modify(keys(&user), &user, &user),
            dynamodb::modify(keys(&order), &order, &order),
            dynamodb::remove(keys(&product), &product),
        ]))
        .await;
    out.assert_all_done();
    assert_eq!(
        o.erp.operations(),
        [
            "upsert PRODUCT PRODUCT#7/META",
            "upsert USER USER#ana/PROFILE",
            "upsert ORDER ORDER#5/META",
            "delete PRODUCT PRODUCT#7/META",
        ]
    );
    assert_eq!(o.erp.item("PRODUCT", &pkey), None);
    assert_eq!(o.cache.get(&pkey), None);
    assert_eq!(o.cache.invalidated().len(), 4);
    // A changed order is synced but is not a new order: no fan-out.
    assert!(o.app.ses().outbox().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dynamodb_an_image_that_does_not_decode_fails_and_stops_the_shard() {
    let o = orders();
    let good = json!({"pk": "USER#a", "sk": "P", "email": "a@example.com"});
    let bad = json!({"pk": "USER#b", "sk": "P"});
    let after = json!({"pk": "USER#c", "sk": "P", "email": "c@example.com"});
    let keys = |v: &Value| json!({"pk": v["pk"], "sk": v["sk"]});
    let stream = dynamodb::batch([
        dynamodb::insert(keys(&good), &good),
        dynamodb::insert(keys(&bad), &bad),
        dynamodb::insert(keys(&after), &after),
    ]);
    let seq = stream.sequence_numbers();
    let out = o.app.send(stream).await;
    assert_eq!(out.batch_item_failures(), [seq[1].clone()]);
    assert_eq!(
        o.erp.operations(),
        ["upsert USER USER#a/P"],
        "USER#c was not started"
    );
}
