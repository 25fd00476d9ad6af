package watches

import "testing"

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"HOME": "/home/op", "TAG": "1.2", "EMPTY": "", "A_1": "x", "DOLLAR": "$TAG"}
	lookup := func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
	tests := []struct{ in, want string }{
		{"${HOME}/roles", "/home/op/roles"},
		{"$HOME/roles", "/home/op/roles"},
		{"image:${TAG}", "image:1.2"},
		{"${TAG}${TAG}", "1.21.2"},
		{"[${EMPTY}]", "[]"},
		{"$A_1-$A_1", "x-x"},
		{"${UNSET} and $UNSET", "${UNSET} and $UNSET"},
		{"cost: 5$", "cost: 5$"},
		{"$$HOME", "$/home/op"},
		{"$1 $@ $- ${} ${1A} ${HOME", "$1 $@ $- ${} ${1A} ${HOME"},
		{"^[a-z]+$", "^[a-z]+$"},
		{"${DOLLAR}", "$TAG"}, // a value is not expanded again
		{"no reference", "no reference"},
		{"ünï $HOME ¢", "ünï /home/op ¢"},
	}
	for _, tt := range tests {
		if got := expandEnv(tt.in, lookup); got != tt.want {
			t.Errorf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
