/* Test stand-in (not shipped): printk, format-checked like Zephyr's. */
#ifndef ZEPHYR_SYS_PRINTK_H_SHIM
#define ZEPHYR_SYS_PRINTK_H_SHIM
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
