package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Env is a row of the envs table: one environment whose test results are
// kept apart from the others' (SPEC 4.7).
type Env struct {
	ID         int64
	Name       string
	RecordedAt int64             // last completed recording run, 0 if none
	Vars       map[string]string // the values it was recorded with
}

// MaxEnvName bounds an environment's name: it is shown in one-line
// messages and stored in a pseudo-file's path.
const MaxEnvName = 100

// CheckEnvName refuses a name that is empty, too long, or holds
// whitespace, control or other invisible characters: a name must read the
// same in a command line, an ini file and a one-line message.
func CheckEnvName(name string) error {
	switch {
	case name == "":
		return errors.New("an environment name cannot be empty")
	case len(name) > MaxEnvName:
		return fmt.Errorf("environment name longer than %d bytes", MaxEnvName)
	case !utf8.ValidString(name):
		return fmt.Errorf("environment name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || !unicode.IsGraphic(r) {
			return fmt.Errorf("environment name %q holds whitespace or an invisible character", name)
		}
	}
	return nil
}

// EnvByName returns an environment's id; ok is false when it has no row.
func EnvByName(q Querier, name string) (id int64, ok bool, err error) {
	err = q.queryRow("SELECT id FROM envs WHERE name = ?", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// EnsureEnv returns an environment's id, adding its row if needed.
func EnsureEnv(q Querier, name string) (int64, error) {
	var id int64
	err := q.queryRow(`INSERT INTO envs (name) VALUES (?)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name
		RETURNING id`, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store environment %s: %w", name, err)
	}
	return id, nil
}

// SetEnvRecorded notes a completed recording run in an environment.
func SetEnvRecorded(q Querier, id, at int64, vars map[string]string) error {
	b, err := json.Marshal(vars)
	if err != nil {
		return err
	}
	_, err = q.exec("UPDATE envs SET recorded_at = ?, vars = ? WHERE id = ?", at, string(b), id)
	return err
}

// Envs returns every environment, by id.
func Envs(q Querier) ([]Env, error) {
	rows, err := q.query("SELECT id, name, recorded_at, vars FROM envs ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Env
	for rows.Next() {
		var e Env
		var vars string
		if err := rows.Scan(&e.ID, &e.Name, &e.RecordedAt, &vars); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(vars), &e.Vars); err != nil {
			return nil, fmt.Errorf("%w (damaged: environment %s)", ErrNotDatabase, e.Name)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountTestsByEnv returns how many tests each environment holds, by id.
func CountTestsByEnv(q Querier) (map[int64]int, error) {
	rows, err := q.query("SELECT env, count(*) FROM tests GROUP BY env")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
