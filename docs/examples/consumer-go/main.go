// A minimal subscriber to townsquare's posts.enriched topic (docs/consumers.md).
//
// It reads with segmentio/kafka-go, routes on the townsquare-kind header
// (falling back to the value's "kind" for messages written before 1.4.0),
// and decodes with encoding/json, which ignores unknown fields: that is what
// the forward-compatible policy asks of consumers, so a newer 1.x producer
// never breaks it. Posts and edits replace the stored post by id; a delete
// removes it. Delivery is at-least-once, so both are idempotent.
//
// tests/docs/test_go_example.py checks that every json tag below names a
// field of schemas/json/topics/posts.enriched.schema.json.
//
//	go mod init example.com/townsquare-consumer
//	go get github.com/segmentio/kafka-go
//	KAFKA=localhost:9092 TOPIC=townsquare.posts.enriched.v1 go run .
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"strings"

	"github.com/segmentio/kafka-go"
)

// Joinability is the part of an enriched post this example acts on.
type Joinability struct {
	Score       float64            `json:"score"`
	Action      string             `json:"action"`
	Components  map[string]float64 `json:"components"`
	Reasons     []string           `json:"reasons"`
	ReasonCodes []string           `json:"reason_codes"`
}

// Author is who wrote the post.
type Author struct {
	ID     string  `json:"id"`
	Handle *string `json:"handle"`
}

// EnrichedPost is kind "post" or "edit". Unknown fields are ignored.
type EnrichedPost struct {
	Kind           string      `json:"kind"`
	ID             string      `json:"id"`
	Platform       string      `json:"platform"`
	ConversationID string      `json:"conversation_id"`
	URL            *string     `json:"url"`
	Text           string      `json:"text"`
	Author         Author      `json:"author"`
	Joinability    Joinability `json:"joinability"`
	Redacted       bool        `json:"redacted"`
	SchemaVersion  string      `json:"schema_version"`
}

// PostDeleted is kind "delete": drop every copy of the post with this id.
type PostDeleted struct {
	Kind           string `json:"kind"`
	ID             string `json:"id"`
	Platform       string `json:"platform"`
	ConversationID string `json:"conversation_id"`
	DeletedAt      string `json:"deleted_at"`
	SchemaVersion  string `json:"schema_version"`
}

func header(m kafka.Message, name string) string {
	for _, h := range m.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}

// kindOf reads the townsquare-kind header, or the value's own kind without it.
func kindOf(m kafka.Message) string {
	if kind := header(m, "townsquare-kind"); kind != "" {
		return kind
	}
	var probe struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(m.Value, &probe); err != nil {
		return ""
	}
	return probe.Kind
}

func main() {
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers: strings.Split(getenv("KAFKA", "localhost:9092"), ","),
		Topic:   getenv("TOPIC", "townsquare.posts.enriched.v1"),
		GroupID: getenv("GROUP", "example-consumer"),
	})
	defer reader.Close()

	store := map[string]EnrichedPost{} // post id -> latest copy (stands in for your database)
	ctx := context.Background()
	for {
		m, err := reader.ReadMessage(ctx) // commits after the handler below returns
		if err != nil {
			log.Fatalf("read: %v", err)
		}
		if major := strings.SplitN(header(m, "townsquare-schema-version"), ".", 2)[0]; major != "" && major != "1" {
			log.Printf("skipping schema version %s: this consumer reads 1.x", major)
			continue
		}
		switch kindOf(m) {
		case "post", "edit":
			var post EnrichedPost
			if err := json.Unmarshal(m.Value, &post); err != nil {
				log.Printf("bad post at offset %d: %v", m.Offset, err)
				continue
			}
			store[post.ID] = post // an edit or a redelivery replaces by id
			if post.Joinability.Action == "reply" {
				log.Printf("reply to %s (%.2f): %v", post.ID, post.Joinability.Score, post.Joinability.ReasonCodes)
			}
		case "delete":
			var gone PostDeleted
			if err := json.Unmarshal(m.Value, &gone); err != nil {
				log.Printf("bad delete at offset %d: %v", m.Offset, err)
				continue
			}
			delete(store, gone.ID) // a delete of an unknown id is harmless
		default:
			// A kind added in a later minor version: skip it, never fail.
		}
	}
}

func getenv(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
