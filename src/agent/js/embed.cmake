# cmake -DIN=x.js -DOUT=x.c -DNAME=x -P embed.cmake: writes the file's bytes
# as `const char js_lib_NAME[]` (NUL-terminated) and its length.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}
  "/* Generated from ${IN}; do not edit. */\n"
  "#include <stddef.h>\n"
  "const char js_lib_${NAME}[] = {${bytes} 0};\n"
  "const size_t js_lib_${NAME}_len = ${len};\n")
