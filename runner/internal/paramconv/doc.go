// Package paramconv converts the keys of a custom resource's spec to the
// snake_case names Ansible roles see as extra vars.
//
// It sits inside the runner step of watch event → controller → runner →
// proxy: the runner calls MapToSnake on the spec before writing
// env/extravars. The conversion rules are those of operator-framework's
// ansible-operator (v1.x) so existing roles find their variables under the
// same names: camelCase humps become underscores, runs of capitals stay one
// word ("JSONData" → "json_data"), the acronyms HTTP, URL and IP (and their
// plurals) are kept whole ("egressIPs" → "egress_ips"), a key starting with a
// capital gets a leading underscore, and "." is kept. Unlike upstream, an
// empty key converts to itself instead of panicking, and two keys of one map
// that convert to the same name are reported as an error instead of one
// silently replacing the other (a *CollisionError). JoinKey and JoinIndex
// write the paths that errors about keys show.
package paramconv
