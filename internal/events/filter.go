package events

import "github.com/stewardhq/steward/internal/scope"

// FilterSubject returns the subject filter that matches the events of one
// user, one session and one data type. An empty argument matches any value
// in its token, so FilterSubject("", "", "winston_logs") matches every
// record of that type and FilterSubject("", "", "") matches every event. A
// data type selects records only; without one, session events match too.
func FilterSubject(user scope.User, session scope.Session, dataType string) string {
	if dataType == "" && session == "" {
		if user == "" {
			return SubjectAll
		}
		return user.SubjectFilter(SubjectPrefix)
	}
	u, s := "*", "*"
	if user != "" {
		u = string(user)
	}
	if session != "" {
		s = string(session)
	}
	if dataType == "" {
		return SubjectPrefix + "." + u + "." + s + ".>"
	}
	return SubjectPrefix + "." + u + "." + s + "." + string(KindRecord) + "." + dataType
}
