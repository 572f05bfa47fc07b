# pprof: profile.proto compiled by protoc-c into $(B)/gen/profiler/ and built into the library.
$(B)/gen/profiler/profile.pb-c.c $(B)/gen/profiler/profile.pb-c.h &: profiler/profile.proto
	$(call msg,PROTOC,$<)
	@mkdir -p $(B)/gen
	$(Q)protoc-c --proto_path=. --c_out=$(B)/gen $<

GEN_SRCS += $(B)/gen/profiler/profile.pb-c.c
GEN_HDRS += $(B)/gen/profiler/profile.pb-c.h
